import logging

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        # Registers the system check that warns when mail is not configured (migrate and
        # check show it); gunicorn runs no checks, so each process says it once as well.
        from dashboard.accounts import mail_is_configured

        if not mail_is_configured():
            logging.getLogger("dashboard").warning(
                "E-mail is not configured (EMAIL_HOST is not set): password resets are "
                "refused and no mail is sent."
            )
