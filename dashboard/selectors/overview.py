"""The owner's overview of every client: deliberately NOT scoped to a user's memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, OuterRef, Q, Subquery
from django.utils import timezone

from collector.models import Client, LogStatus, WorkflowLog
from dashboard.selectors.stats import Window, _rate

# The owner's overview ----------------------------------------------------------------

# A client is "silent" when its last log is older than this many of its usual intervals
# between logs (30-day average), kept between an hour and a day so neither a very busy
# nor a very quiet client raises noise.
SILENCE_INTERVALS = 10
SILENCE_MIN = timedelta(hours=1)
SILENCE_MAX = timedelta(days=1)
# A client with fewer logs than this, ever, does not "normally send logs" (a trial run);
# the same number in 30 days is enough to measure its usual interval.
SILENCE_MIN_RUNS = 5


@dataclass(frozen=True)
class ClientOverviewRow:
    client_id: int
    slug: str
    name: str
    is_active: bool
    runs_24h: int = 0
    successes_24h: int = 0
    runs_7d: int = 0
    successes_7d: int = 0
    runs_30d: int = 0
    successes_30d: int = 0
    errors_30d: int = 0
    avg_confidence_30d: float | None = None
    last_log_at: datetime | None = None
    silent_since: timedelta | None = None

    @property
    def success_rate_24h(self) -> float | None:
        return _rate(self.successes_24h, self.runs_24h)

    @property
    def success_rate_7d(self) -> float | None:
        return _rate(self.successes_7d, self.runs_7d)

    @property
    def success_rate_30d(self) -> float | None:
        return _rate(self.successes_30d, self.runs_30d)

    @property
    def is_silent(self) -> bool:
        return self.silent_since is not None


def _silence(
    *, runs_30d: int, last: datetime | None, steady: bool, is_active: bool, now: datetime
) -> timedelta | None:
    """How long an active client that normally sends logs has been quiet, if too long.

    "Normally sends logs" is judged on the client's whole history (``steady``: at least
    SILENCE_MIN_RUNS logs ever), not on the last 30 days alone: a client that stopped a
    month ago has no runs in them, and its warning must not vanish as its silence grows.
    A deactivated client is expected to be quiet.
    """
    if last is None or not steady or not is_active:
        return None
    threshold = SILENCE_MAX
    if runs_30d >= SILENCE_MIN_RUNS:
        usual = timedelta(days=30) / runs_30d
        threshold = min(max(usual * SILENCE_INTERVALS, SILENCE_MIN), SILENCE_MAX)
    quiet = now - last
    return quiet if quiet > threshold else None


def client_overview_all_unscoped(*, now: datetime | None = None) -> list[ClientOverviewRow]:
    """One row per client, for the owner only: NOT scoped to a user's memberships.

    Two queries whatever the number of clients: the clients with their last log time
    (index lookups per client), and the last 30 days grouped by client.
    """
    now = now or timezone.now()
    since = {"24h": now - timedelta(hours=24), "7d": now - timedelta(days=7)}
    month = Window(now - timedelta(days=30), now)
    success = Q(status=LogStatus.SUCCESS)
    stats = (
        WorkflowLog.objects.filter(month.q())
        .values("client_id")
        .annotate(
            runs_24h=Count("id", filter=Q(timestamp__gte=since["24h"])),
            successes_24h=Count("id", filter=Q(timestamp__gte=since["24h"]) & success),
            runs_7d=Count("id", filter=Q(timestamp__gte=since["7d"])),
            successes_7d=Count("id", filter=Q(timestamp__gte=since["7d"]) & success),
            runs_30d=Count("id"),
            successes_30d=Count("id", filter=success),
            errors_30d=Count("id", filter=~Q(error_type="")),
            avg_confidence_30d=Avg("overall_confidence"),
        )
        .order_by()
    )
    by_client = {row.pop("client_id"): row for row in stats}
    # Timestamps come from the client: one dated in the future would otherwise stand as
    # the last log until that date, hiding any silence.
    newest = WorkflowLog.objects.filter(client=OuterRef("pk"), timestamp__lte=now).order_by(
        "-timestamp", "-id"
    )
    last_log = newest.values("timestamp")[:1]
    # The SILENCE_MIN_RUNS-th newest log: a few index entries per client, however old.
    steady_log = newest.values("timestamp")[SILENCE_MIN_RUNS - 1 : SILENCE_MIN_RUNS]
    clients = Client.objects.annotate(
        last_log_at=Subquery(last_log), steady_log_at=Subquery(steady_log)
    ).values("id", "slug", "name", "is_active", "last_log_at", "steady_log_at")
    rows = []
    for c in clients:
        numbers = by_client.get(c["id"], {})
        rows.append(
            ClientOverviewRow(
                client_id=c["id"],
                slug=c["slug"],
                name=c["name"],
                is_active=c["is_active"],
                last_log_at=c["last_log_at"],
                silent_since=_silence(
                    runs_30d=numbers.get("runs_30d", 0),
                    last=c["last_log_at"],
                    steady=c["steady_log_at"] is not None,
                    is_active=c["is_active"],
                    now=now,
                ),
                **numbers,
            )
        )
    return rows
