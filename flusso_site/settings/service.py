"""The service's settings: every topic module, plus hardening when DEBUG is off.

Each module reads its own environment variables through flusso_site.env.
"""

from flusso_site.settings.accounts import *  # noqa: F403
from flusso_site.settings.api import *  # noqa: F403
from flusso_site.settings.base import *  # noqa: F403
from flusso_site.settings.dashboard import *  # noqa: F403
from flusso_site.settings.monitors import *  # noqa: F403

if not DEBUG:  # noqa: F405
    from flusso_site.settings.production import *  # noqa: F403
