"""Settings of the benchmark servers: the service's, plus the bare reference endpoints."""

from flusso_site.settings.service import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.reference"]  # noqa: F405
ROOT_URLCONF = "bench.urls"
