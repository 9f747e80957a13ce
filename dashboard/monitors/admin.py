"""Admin for monitors and alerts (the engine work) and for channels and deliveries."""

from dashboard.monitors import admin_channels  # noqa: F401 (registers the channels admin)
