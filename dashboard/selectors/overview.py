"""The owner's overview of every client: deliberately NOT scoped to a user's memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, OuterRef, Subquery, Sum
from django.utils import timezone

from collector.models import Client, Rollup, WorkflowLog
from collector.readmodel import reads
from collector.readmodel.facts import hour_floor
from dashboard.monitors.selectors.alerts import alert_open_counts_unscoped
from dashboard.reviews.readmodel import verdict_totals_by_client_environment
from dashboard.selectors.stats import _rate

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
# What the overview shows of each client's rollups (fewer sums: a cheaper query).
OVERVIEW_MEASURES = ("runs", "n_success", "n_with_error", "conf_n", "conf_sum")


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
    # What the average is made of, so the all-clients total weighs each client by its runs.
    confidence_sum_30d: float = 0.0
    confidence_runs_30d: int = 0
    last_log_at: datetime | None = None
    silent_since: timedelta | None = None
    # Unresolved (open or acknowledged) alerts.
    open_alerts: int = 0
    # Runs of the last 30 days with a verdict, and those judged correct (dashboard.reviews).
    reviewed_30d: int = 0
    judged_correct_30d: int = 0

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
    def judged_correct_rate_30d(self) -> float | None:
        return _rate(self.judged_correct_30d, self.reviewed_30d)

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


def _last_logs(
    *, now: datetime, client: Client | None = None
) -> dict[int, tuple[datetime | None, bool]]:
    """Per client: (its newest log up to now, whether it has SILENCE_MIN_RUNS logs up to now).

    The current hour is read raw (a log dated later this hour is in its rollup row but is
    not "up to now"). The hours before come from the compacted rows over all environments,
    newest first (a few index entries per client however old its last log is), and from
    the deltas not compacted yet (a handful: compaction runs every few seconds). A
    constant number of queries for every client, or for ``client`` alone when given.
    """
    current_hour = hour_floor(now)
    logs, rollups, clients_qs = WorkflowLog.objects.all(), Rollup.objects.all(), Client.objects
    if client is not None:
        logs, rollups = WorkflowLog.objects.for_client(client), Rollup.objects.for_client(client)
        clients_qs = Client.objects.filter(pk=client.pk)
    recent = {
        row["client_id"]: (row["newest"], row["n"])
        for row in logs.filter(timestamp__gte=current_hour, timestamp__lte=now)
        .values("client_id")
        .annotate(n=Count("id"), newest=Max("timestamp"))
        .order_by()
    }
    pending: dict[int, tuple[datetime | None, int]] = {}
    for row in (
        rollups.filter(grain="h", compacted=False, start__lt=current_hour)
        .values("client_id", "start")
        .annotate(n=Sum("runs"), newest=Max("last_at"))
        .order_by()
    ):
        if row["n"] > 0:
            last, runs = pending.get(row["client_id"], (None, 0))
            newest = max(filter(None, [last, row["newest"]]), default=None)
            pending[row["client_id"]] = (newest, runs + row["n"])
    hours = (
        Rollup.objects.for_client(OuterRef("pk"))
        .filter(grain="H", start__lt=current_hour, runs__gt=0)
        .order_by("-start")
    )
    clients = clients_qs.annotate(
        last_before=Subquery(hours.values("last_at")[:1]),
        # A client with SILENCE_MIN_RUNS hours of logs has at least as many logs.
        steady_hour=Subquery(hours.values("start")[SILENCE_MIN_RUNS - 1 : SILENCE_MIN_RUNS]),
    ).values_list("id", "last_before", "steady_hour")
    result: dict[int, tuple[datetime | None, bool]] = {}
    few_hours = []
    for client_id, last_before, steady_hour in clients:
        newest, seen = recent.get(client_id, (None, 0))
        pending_last, pending_runs = pending.get(client_id, (None, 0))
        seen += pending_runs
        last = newest or max(filter(None, [last_before, pending_last]), default=None)
        steady = steady_hour is not None or seen >= SILENCE_MIN_RUNS
        result[client_id] = (last, steady)
        if not steady and last_before is not None:
            few_hours.append((client_id, seen))
    if few_hours:
        # Clients with fewer than SILENCE_MIN_RUNS compacted hours: a handful of rows each.
        counts = dict(
            Rollup.objects.for_clients(c for c, _ in few_hours)
            .filter(grain="H", start__lt=current_hour)
            .values("client_id")
            .annotate(n=Sum("runs"))
            .values_list("client_id", "n")
        )
        for client_id, seen in few_hours:
            last = result[client_id][0]
            result[client_id] = (last, seen + (counts.get(client_id) or 0) >= SILENCE_MIN_RUNS)
    return result


def client_overview_all_unscoped(*, now: datetime | None = None) -> list[ClientOverviewRow]:
    """One row per client, for the owner only: NOT scoped to a user's memberships.

    From the read model, in a fixed number of queries whatever the number of clients: one
    rollup query for every client's 24 h / 7 d / 30 d figures, one for the raw logs of
    those windows' partial hours, the last logs (``_last_logs``) and one grouped count of
    the unresolved alerts.
    """
    now = now or timezone.now()
    spans = {
        "24h": reads.Span(now - timedelta(hours=24), now),
        "7d": reads.Span(now - timedelta(days=7), now),
        "30d": reads.Span(now - timedelta(days=30), now),
    }
    with reads.read_snapshot():
        clients = list(Client.objects.values("id", "slug", "name", "is_active"))
        ids = [c["id"] for c in clients]
        by_client = reads.totals_by_client(ids, spans, OVERVIEW_MEASURES)
        last_logs = _last_logs(now=now)
        open_alerts = alert_open_counts_unscoped()
        verdicts = _verdicts_30d(ids, spans["30d"])
    rows = []
    for c in clients:
        totals = by_client.get(c["id"])
        numbers: dict = {}
        if totals:
            month = totals["30d"]
            numbers = {
                "runs_24h": int(totals["24h"]["runs"]),
                "successes_24h": int(totals["24h"]["n_success"]),
                "runs_7d": int(totals["7d"]["runs"]),
                "successes_7d": int(totals["7d"]["n_success"]),
                "runs_30d": int(month["runs"]),
                "successes_30d": int(month["n_success"]),
                "errors_30d": int(month["n_with_error"]),
                "avg_confidence_30d": (
                    month["conf_sum"] / month["conf_n"] if month["conf_n"] else None
                ),
                "confidence_sum_30d": float(month["conf_sum"]),
                "confidence_runs_30d": int(month["conf_n"]),
            }
        last_log_at, steady = last_logs.get(c["id"], (None, False))
        rows.append(
            ClientOverviewRow(
                client_id=c["id"],
                slug=c["slug"],
                name=c["name"],
                is_active=c["is_active"],
                last_log_at=last_log_at,
                open_alerts=open_alerts.get(c["id"], 0),
                reviewed_30d=verdicts.get(c["id"], (0, 0))[0],
                judged_correct_30d=verdicts.get(c["id"], (0, 0))[1],
                silent_since=_silence(
                    runs_30d=numbers.get("runs_30d", 0),
                    last=last_log_at,
                    steady=steady,
                    is_active=c["is_active"],
                    now=now,
                ),
                **numbers,
            )
        )
    return rows


def _verdicts_30d(client_ids: list[int], span: reads.Span) -> dict[int, tuple[int, int]]:
    """Per client: (runs with a verdict, judged correct) in the span, from the verdict
    counts: one query for every client, one read of the span's sub-hour edges."""
    found: dict[int, tuple[int, int]] = {}
    by_environment = verdict_totals_by_client_environment(client_ids, {"30d": span})
    for (client_id, _), spans in by_environment.items():
        counts = spans["30d"]
        reviewed, correct = found.get(client_id, (0, 0))
        found[client_id] = (reviewed + counts.reviewed, correct + counts.judged_correct)
    return found


# One client's own dashboard -------------------------------------------------------------


def client_silence(*, client: Client, now: datetime | None = None) -> timedelta | None:
    """How long ``client`` has been quiet when it has gone silent (the owner overview's
    rule, ``_silence``), else None: the read model's newest hours and one 30-day total."""
    now = now or timezone.now()
    with reads.read_snapshot():
        last, steady = _last_logs(now=now, client=client).get(client.pk, (None, False))
        if last is None or not steady or not client.is_active:
            return None
        month = reads.totals_by_client(
            [client.pk], {"30d": reads.Span(now - timedelta(days=30), now)}, ("runs",)
        )
    runs_30d = int(month[client.pk]["30d"]["runs"]) if client.pk in month else 0
    return _silence(
        runs_30d=runs_30d, last=last, steady=steady, is_active=client.is_active, now=now
    )
