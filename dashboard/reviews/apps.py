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
