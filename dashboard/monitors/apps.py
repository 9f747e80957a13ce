from django.apps import AppConfig


class MonitorsConfig(AppConfig):
    """Monitors, alerts, their channels and the weekly reports (issue 9).

    Nested under dashboard because everything it shows is a dashboard page; its own app
    because it has its own tables, services and commands.
    """

    name = "dashboard.monitors"
    label = "monitors"
    verbose_name = "Monitors and alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dashboard.monitors import checks  # noqa: F401 (registers the system checks)
