from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        # Registers the system check that warns when mail is not configured.
        from dashboard import accounts  # noqa: F401
