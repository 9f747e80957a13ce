"""Sending the weekly reports, once per week and recipient, and unsubscribing from them.

A report is recorded (``ReportDelivery``, unique per week, client and address) in the same
transaction as it is handed to the mail backend: a send that fails leaves no record, so the
next run tries again; a send that succeeded is never repeated, however often the command
runs. The mail is HTML with a plain-text part, tables and text only (no images), and
carries RFC 8058 one-click unsubscribe headers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from dashboard.monitors.models import NotificationSettings, ReportDelivery
from dashboard.monitors.selectors.notifications import notification_settings_by_unsubscribe_token
from dashboard.monitors.selectors.reports import (
    WEEK,
    ClientReport,
    OwnerReport,
    Recipient,
    alert_path,
    client_report,
    last_complete_week,
    owner_report_all_clients_unscoped,
    report_already_sent,
    report_recipients_unscoped,
    week_is_over,
    week_monday,
)
from dashboard.monitors.services.notifications import notification_settings_ensure
from flusso_site.errors import ApplicationError, NotFound

logger = logging.getLogger(__name__)


class SiteUrlMissing(ApplicationError):
    """Mail needs absolute links, and SITE_URL is not set."""


class ReportWeekNotOver(ApplicationError):
    """The week has not ended: its report would be incomplete, and a report is sent once."""


class UnknownUnsubscribeToken(NotFound):
    """No user has this unsubscribe token (mistyped, or rotated)."""


def unsubscribe_weekly_report(*, token: str) -> NotificationSettings:
    """Turn the weekly report off for the user whose link this is (idempotent)."""
    found = notification_settings_by_unsubscribe_token(token=token)
    if found is None:
        raise UnknownUnsubscribeToken(
            "This unsubscribe link is not valid (it may have been replaced by a newer one).",
            code="unknown_token",
        )
    if found.weekly_report:
        found.weekly_report = False
        found.save(update_fields=["weekly_report"])
    return found


def _site_url() -> str:
    site = getattr(settings, "SITE_URL", "")
    if not site:
        raise SiteUrlMissing(
            "Set SITE_URL (e.g. https://flusso.example.com) so report links work.",
            code="site_url_missing",
        )
    return site


def _subject(report: ClientReport | OwnerReport) -> str:
    whose = report.client.name if isinstance(report, ClientReport) else "all clients"
    return f"Flusso weekly report: {whose}, week of {report.week.isoformat()}"


def report_context(
    report: ClientReport | OwnerReport, *, site: str = "", unsubscribe_url: str = ""
) -> dict[str, Any]:
    """What the report's templates (page and mail) need; ``site`` prefixes every link."""
    context: dict[str, Any] = {
        "report": report,
        "site": site,
        "unsubscribe_url": unsubscribe_url,
        "opened": [(a, site + alert_path(a)) for a in report.alerts_opened],
        "resolved": [(a, site + alert_path(a)) for a in report.alerts_resolved],
    }
    if isinstance(report, ClientReport):
        context["dashboard_url"] = site + report.dashboard_path
    else:
        context["dashboard_url"] = site + reverse("dashboard:home")
    return context


def report_message(
    *, report: ClientReport | OwnerReport, to: str, token: str
) -> EmailMultiAlternatives:
    """The report as an e-mail to ``to``, whose unsubscribe token is ``token``."""
    site = _site_url()
    unsubscribe_url = site + reverse("dashboard:unsubscribe", args=[token])
    context = report_context(report, site=site, unsubscribe_url=unsubscribe_url)
    kind = "client" if isinstance(report, ClientReport) else "owner"
    text = render_to_string(f"monitors/report/{kind}_email.txt", context)
    html = render_to_string(f"monitors/report/{kind}_email.html", context)
    message = EmailMultiAlternatives(
        subject=_subject(report),
        body=text,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the URL.
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


@dataclass(frozen=True)
class ReportOutcome:
    """What happened to one recipient's report: sent, already_sent, would_send, failed."""

    email: str
    client_slug: str  # "" for the owner's report
    outcome: str
    error: str = ""


def reports_send(
    *, week: dt.date, dry_run: bool = False, now: dt.datetime | None = None
) -> list[ReportOutcome]:
    """Send the week's reports to everyone due one who has not had it yet.

    ``week`` is normalised to its Monday. A week that has not ended by ``now`` is refused
    (``ReportWeekNotOver``): a report is sent once per week and recipient, so sending the
    week in progress would keep its complete report from ever going out. A dry run writes
    nothing (no delivery record, no settings row) and sends nothing; it says who would get
    what.
    """
    week = week_monday(week)
    now = now or timezone.now()
    if not week_is_over(week, now):
        last = last_complete_week(now)
        raise ReportWeekNotOver(
            f"The week of {week} is not over yet (it ends on Monday {week + WEEK} at 00:00 "
            f"UTC), so its report would be incomplete and could never be sent complete. "
            f"The last complete week is the week of {last}.",
            code="week_not_over",
        )
    if not dry_run:
        _site_url()  # refuse before the first report rather than on each
    reports: dict[int | None, ClientReport | OwnerReport] = {}
    outcomes = []
    for recipient in report_recipients_unscoped():
        slug = recipient.client.slug if recipient.client else ""
        if report_already_sent(week=week, recipient=recipient):
            outcomes.append(ReportOutcome(recipient.email, slug, "already_sent"))
            continue
        if dry_run:
            outcomes.append(ReportOutcome(recipient.email, slug, "would_send"))
            continue
        key = recipient.client.pk if recipient.client else None
        if key not in reports:
            reports[key] = (
                client_report(client=recipient.client, week=week)
                if recipient.client
                else owner_report_all_clients_unscoped(week=week)
            )
        outcomes.append(_send_one(week, recipient, reports[key]))
    return outcomes


def _send_one(
    week: dt.date, recipient: Recipient, report: ClientReport | OwnerReport
) -> ReportOutcome:
    slug = recipient.client.slug if recipient.client else ""
    token = notification_settings_ensure(user=recipient.user).unsubscribe_token
    message = report_message(report=report, to=recipient.email, token=token)
    try:
        with transaction.atomic():
            ReportDelivery.objects.create(
                week=week, client=recipient.client, user=recipient.user, email=recipient.email
            )
            # Inside the transaction: if the backend refuses the mail, the record goes too.
            message.send()
    except IntegrityError:  # another run recorded it first
        return ReportOutcome(recipient.email, slug, "already_sent")
    except Exception as exc:  # one bad address must not stop the others
        logger.warning("weekly report to %s (%s) failed: %s", recipient.email, slug, exc)
        return ReportOutcome(recipient.email, slug, "failed", error=str(exc)[:200])
    return ReportOutcome(recipient.email, slug, "sent")
