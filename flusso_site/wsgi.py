"""WSGI entry point: ``gunicorn flusso_site.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flusso_site.settings.service")

application = get_wsgi_application()
