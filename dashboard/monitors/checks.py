"""System checks of the monitors' settings (shown by migrate, check and check --deploy)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def check_site_url(**kwargs: Any) -> list[checks.CheckMessage]:
    """Alert mail, webhook payloads and weekly reports link to the dashboard; a mail has no
    request to build an absolute address from, so without SITE_URL links would be broken
    (send_reports refuses to run)."""
    if settings.SITE_URL:
        return []
    return [
        checks.Warning(
            "SITE_URL is not set: alert e-mails and webhooks cannot link to the dashboard "
            "and send_reports refuses to run.",
            hint="Set SITE_URL to the address people open Flusso at, e.g. "
            "https://flusso.example.com.",
            id="flusso.W003",
        )
    ]
