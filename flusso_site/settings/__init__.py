"""Settings, split by topic; each module reads its own environment variables.

``DJANGO_SETTINGS_MODULE=flusso_site.settings`` is the service; tests use
``flusso_site.settings.test`` on top of it.
"""

from flusso_site.settings.accounts import *  # noqa: F403
from flusso_site.settings.api import *  # noqa: F403
from flusso_site.settings.base import *  # noqa: F403
from flusso_site.settings.dashboard import *  # noqa: F403

if not DEBUG:  # noqa: F405
    from flusso_site.settings.production import *  # noqa: F403
