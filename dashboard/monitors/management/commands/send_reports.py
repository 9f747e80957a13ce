"""Send the weekly reports (cron, weekly): ``send_reports [--week YYYY-MM-DD] [--dry-run]``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from dashboard.forms import EARLIEST_DATE
from dashboard.monitors.selectors.reports import last_complete_week, week_monday
from dashboard.monitors.services.reports import reports_send
from flusso_site.errors import ApplicationError

LABELS = {
    "sent": "sent",
    "already_sent": "already sent, skipped",
    "would_send": "would send",
    "failed": "FAILED",
}


def _week(text: str | None, now: dt.datetime) -> tuple[dt.date, str]:
    """The Monday of the given day's week (and a note when the day was not a Monday).
    Whether that week is over is the service's rule (reports_send)."""
    if not text:
        return last_complete_week(now), ""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--week must be a date as YYYY-MM-DD, not {text!r}.") from None
    if day < EARLIEST_DATE:
        raise CommandError(f"--week must be on or after {EARLIEST_DATE}.")
    monday = week_monday(day)
    note = (
        f"{day} is a {day:%A}: sending the week that starts on Monday {monday}."
        if monday != day
        else ""
    )
    return monday, note


class Command(BaseCommand):
    help = (
        "E-mail the weekly reports: each active client's report to its members, the owner's "
        "to the owners, to those who have not turned it off and not had it yet this week. "
        "Re-running sends nothing twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--week",
            help=(
                "A day of the week to report (read as its Monday, UTC); "
                "default: the last complete week."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say who would get what; send and record nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        week, note = _week(options["week"], now)
        if note:
            self.stdout.write(note)
        dry_run = options["dry_run"]
        try:
            # A week not over yet is refused there (ReportWeekNotOver), with its reason.
            outcomes = reports_send(week=week, dry_run=dry_run, now=now)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        heading = "Dry run, nothing sent: " if dry_run else ""
        self.stdout.write(f"{heading}weekly reports for the week of {week}")
        for outcome in outcomes:
            whose = outcome.client_slug or "owner (all clients)"
            line = f"  {outcome.email}: {whose} report, {LABELS[outcome.outcome]}"
            if outcome.error:
                line += f" ({outcome.error})"
            self.stdout.write(line)
        counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in LABELS}
        self.stdout.write(
            f"{counts['sent']} sent, {counts['already_sent']} already sent, "
            f"{counts['would_send']} would be sent, {counts['failed']} failed."
        )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} report(s) could not be sent; re-run to retry.")
