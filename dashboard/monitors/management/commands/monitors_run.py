"""Evaluate every monitor once (cron, every minute) or in a loop, then deliver."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.monitors.services.defaults import monitors_ensure_defaults
from dashboard.monitors.services.deliveries import deliveries_run
from dashboard.monitors.services.evaluation import monitors_evaluate

logger = logging.getLogger(__name__)


# --now replays the past. A moment in the future would open alerts dated after every
# live run (which then skip them as "not yet existing" and cannot open their own); one
# before the service existed reads nothing and, near year 1, overflows the baseline's
# dates. A few minutes ahead are allowed for clocks that disagree.
NOW_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
NOW_AHEAD = dt.timedelta(minutes=5)


def parse_moment(text: str) -> dt.datetime:
    """An ISO 8601 moment; without an offset it is read as UTC. Refused when more than
    five minutes in the future or before 2000-01-01."""
    try:
        moment = parse_datetime(text.strip())
    except ValueError:  # well formed but impossible, e.g. month 13
        moment = None
    if moment is None:
        raise CommandError(
            f"--now {text!r} is not an ISO 8601 date and time, e.g. 2026-11-20T09:30:00Z."
        )
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.UTC)
    if moment < NOW_EARLIEST:
        raise CommandError(f"--now {text!r} is before 2000-01-01: there is nothing to replay.")
    if moment > timezone.now() + NOW_AHEAD:
        raise CommandError(
            f"--now {text!r} is in the future: --now replays a past moment (alerts dated "
            "ahead would block the live runs)."
        )
    return moment


class Command(BaseCommand):
    help = (
        "Create the default monitors clients lack, evaluate every enabled monitor, and "
        "deliver the notifications of what opened or resolved. Run from cron every minute, "
        "or with --loop. --now replays a past moment, seeing only logs before it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            help="Evaluate as of this moment (ISO 8601; UTC when no offset is given).",
        )
        parser.add_argument(
            "--loop", action="store_true", help="Keep evaluating until interrupted (Ctrl-C)."
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=60.0,
            help="Seconds between the starts of two evaluations with --loop (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fixed = parse_moment(options["now"]) if options["now"] else None
        interval = options["interval"]
        if interval <= 0:
            raise CommandError("--interval must be a positive number of seconds.")
        if fixed is not None and options["loop"]:
            raise CommandError("--now and --loop do not go together: a loop runs in real time.")
        if not options["loop"]:
            self.stdout.write(self.once(fixed))
            return
        try:
            while True:
                started = time.monotonic()
                try:
                    self.stdout.write(self.once(None))
                except Exception:  # one failing round must not stop the loop
                    logger.exception("monitors_run: this evaluation failed; the loop goes on")
                    self.stderr.write("monitors_run: evaluation failed (logged); continuing")
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            self.stdout.write("monitors_run: stopped.")

    def once(self, fixed: dt.datetime | None) -> str:
        now = fixed or timezone.now()
        created = monitors_ensure_defaults()
        summary = monitors_evaluate(now=now)
        sent = deliveries_run(now=now)
        made = f"{created} default monitors created; " if created else ""
        moment = f"{now.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
        return f"monitors_run {moment}: {made}{summary.line()}; {sent} sent"
