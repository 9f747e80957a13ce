from django.apps import AppConfig


class CollectorConfig(AppConfig):
    name = "collector"
    verbose_name = "Collector"

    def ready(self) -> None:
        # Registers the OpenAPI description of the API key authentication.
        from collector import schema  # noqa: F401
