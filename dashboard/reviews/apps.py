from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    """Verdicts on runs recorded by a client's staff and the owner, and the review queue.

    Nested under dashboard because everything it shows is a dashboard page; its own app
    because it has its own tables, services and selectors.
    """

    name = "dashboard.reviews"
    label = "reviews"
    verbose_name = "Reviews and verdicts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Verdicts go with their logs (retention) and their counts are rebuilt with the
        # read model; the collector calls them through this description, never by import.
        from collector.log_dependents import LogDependent, log_dependent_register
        from dashboard.reviews.readmodel import verdict_counts_rebuild
        from dashboard.reviews.services import verdicts_delete_for_logs, verdicts_delete_for_span

        log_dependent_register(
            LogDependent(
                noun="verdict(s)",
                delete_for_logs=verdicts_delete_for_logs,
                delete_for_span=verdicts_delete_for_span,
                rebuild=verdict_counts_rebuild,
            )
        )
