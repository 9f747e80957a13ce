"""The weekly report's numbers (reads only): one client's week, or the owner's over all.

A week runs from Monday 00:00 UTC to the next Monday. Every value comes from the read
model through ``collector.readmodel.reads`` and is defined by
``dashboard.monitors.metrics.metric_value``, so the report, the monitors and the alerts
page agree on what each metric is. Each value is set against the previous week and against
the client's own normal: the median of that metric over the 4 weeks before the report's
week (of the weeks that had data; at least ``MIN_NORMAL_WEEKS`` of them).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from collector.models import Client
from collector.readmodel import reads
from collector.readmodel.reads import Totals
from dashboard.models import Membership
from dashboard.monitors.metrics import MetricValue, metric_value
from dashboard.monitors.models import Alert, Metric, ReportDelivery

WEEK = dt.timedelta(days=7)
# The normal is the median of this many weeks before the report's week.
NORMAL_WEEKS = 4
# Fewest of those weeks with data for a normal to be given: one week alone is the previous
# week, not a normal.
MIN_NORMAL_WEEKS = 2
# Rows in the top error types and nodes.
TOP_ERRORS = 5
# "Versions deployed" are those first seen in the week: seen in it, never before. Before is
# read from the day rollups since this date (a cost bounded by the history's length in
# days, not by its logs).
HISTORY_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# (metric, label, how the value is formatted: dashboard_format.kpi's kinds).
REPORT_METRICS: tuple[tuple[str, str, str], ...] = (
    (Metric.VOLUME, "Runs", "int"),
    (Metric.SUCCESS_RATE, "Success rate", "pct"),
    (Metric.ESCALATION_RATE, "Escalation rate", "pct"),
    (Metric.CONFIDENCE, "Average confidence", "ratio"),
    (Metric.HALLUCINATION_RISK, "Average hallucination risk", "ratio"),
    (Metric.P95_EXECUTION, "p95 execution time", "approx_seconds"),
)
# Whether up is good, for the report's arrows (runs: neither).
UP_IS_GOOD = {
    Metric.VOLUME: None,
    Metric.SUCCESS_RATE: True,
    Metric.ESCALATION_RATE: False,
    Metric.CONFIDENCE: True,
    Metric.HALLUCINATION_RISK: False,
    Metric.P95_EXECUTION: False,
}


def week_monday(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (ISO weeks start on Monday)."""
    return day - dt.timedelta(days=day.weekday())


def last_complete_week(now: dt.datetime) -> dt.date:
    """The Monday of the last week that has ended by ``now`` (UTC)."""
    return week_monday(now.astimezone(dt.UTC).date()) - WEEK


def week_is_over(week: dt.date, now: dt.datetime) -> bool:
    """Whether the week of ``week`` has ended by ``now`` (its next Monday 00:00 UTC has
    come): only then is its report complete."""
    return week_monday(week) <= last_complete_week(now)


def week_span(week: dt.date) -> reads.Span:
    start = dt.datetime.combine(week, dt.time.min, tzinfo=dt.UTC)
    return reads.Span(start, start + WEEK)


@dataclass(frozen=True)
class MetricRow:
    """One metric of the week, the previous week and the normal (None: no data)."""

    metric: str
    label: str
    kind: str
    value: float | None
    samples: int
    previous: float | None
    normal: float | None
    normal_weeks: int
    up_is_good: bool | None

    @property
    def change_previous(self) -> float | None:
        return _difference(self.value, self.previous)

    @property
    def change_normal(self) -> float | None:
        return _difference(self.value, self.normal)


def _difference(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else value - reference


@dataclass(frozen=True)
class Count:
    name: str
    runs: int


class _WeekBounds:
    """The bounds of a report's week (``week``: its Monday)."""

    week: dt.date

    @property
    def start(self) -> dt.datetime:
        return week_span(self.week).start

    @property
    def end(self) -> dt.datetime:
        """The next Monday 00:00 UTC (the week is [start, end))."""
        return week_span(self.week).end

    @property
    def last_day(self) -> dt.date:
        return self.week + dt.timedelta(days=6)


@dataclass
class ClientReport(_WeekBounds):
    client: Client
    week: dt.date
    rows: list[MetricRow]
    error_types: list[Count] = field(default_factory=list)
    error_nodes: list[Count] = field(default_factory=list)
    alerts_opened: list[Alert] = field(default_factory=list)
    alerts_resolved: list[Alert] = field(default_factory=list)
    versions_deployed: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.rows[0].samples

    @property
    def dashboard_path(self) -> str:
        return dashboard_path(self.client, self.week)


def dashboard_path(client: Client, week: dt.date) -> str:
    """The client's dashboard over the report's week (days in the site's time zone, UTC)."""
    last = week + dt.timedelta(days=6)
    return (
        reverse("dashboard:client", args=[client.slug])
        + f"?period=custom&start={week.isoformat()}&end={last.isoformat()}"
    )


def alert_path(alert: Alert) -> str:
    """Where an alert of the report links: its item on the client's alerts page."""
    return reverse("dashboard:alerts", args=[alert.client.slug]) + f"#alert-{alert.pk}"


def _spans(week: dt.date) -> list[reads.Span]:
    """The week, then the NORMAL_WEEKS before it, newest first (index 1: previous week)."""
    return [week_span(week - WEEK * back) for back in range(NORMAL_WEEKS + 1)]


def _rows(values_by_metric: dict[str, list[MetricValue]]) -> list[MetricRow]:
    rows = []
    for metric, label, kind in REPORT_METRICS:
        values = values_by_metric.get(metric)
        if values is None:
            continue
        current, history = values[0], values[1:]
        # A week without runs has no normal to give (the client did not run yet, or was
        # silent); it still is the previous week, with 0 runs.
        seen = [v.value for v in history if v.value is not None and v.samples > 0]
        normal = statistics.median(seen) if len(seen) >= MIN_NORMAL_WEEKS else None
        rows.append(
            MetricRow(
                metric=metric,
                label=label,
                kind=kind,
                value=_as_kind(current.value, kind),
                samples=current.samples,
                previous=_as_kind(history[0].value, kind),
                normal=normal if kind != "int" or normal is None or normal % 1 else int(normal),
                normal_weeks=len(seen),
                up_is_good=UP_IS_GOOD[metric],
            )
        )
    return rows


def _as_kind(value: float | None, kind: str) -> float | None:
    """Counts as whole numbers (metric_value gives volume as a float)."""
    return int(value) if kind == "int" and value is not None else value


def _values(
    totals: list[Totals], durations: list[dict[int, int]] | None
) -> dict[str, list[MetricValue]]:
    found = {}
    for metric, _, _ in REPORT_METRICS:
        if metric == Metric.P95_EXECUTION:
            if durations is None:
                continue
            found[metric] = [
                metric_value(metric, t, d) for t, d in zip(totals, durations, strict=True)
            ]
        else:
            found[metric] = [metric_value(metric, t) for t in totals]
    return found


def _top_errors(groups: dict[tuple[str, str], tuple[int, object]]) -> tuple[list, list]:
    by_type: Counter[str] = Counter()
    by_node: Counter[str] = Counter()
    for (error_type, error_node), (runs, _) in groups.items():
        if error_type:
            by_type[error_type] += runs
        if error_node:
            by_node[error_node] += runs

    def top(counter: Counter[str]) -> list[Count]:
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        return [Count(name, runs) for name, runs in ordered[:TOP_ERRORS]]

    return top(by_type), top(by_node)


def _versions_first_seen(scope: reads.Scope, span: reads.Span) -> list[str]:
    during = {version for _, version in reads.dimensions(scope, span) if version}
    if not during:
        return []
    before = {
        version for _, version in reads.dimensions(scope, reads.Span(HISTORY_START, span.start))
    }
    return sorted(during - before)


def client_report(*, client: Client, week: dt.date) -> ClientReport:
    """The client's report for the week starting on ``week`` (a Monday)."""
    week = week_monday(week)
    scope = reads.Scope(client_id=client.pk)
    spans = _spans(week)
    with reads.read_snapshot():
        totals = reads.totals(scope, spans)
        durations = reads.duration_histograms(scope, spans)
        groups = reads.error_groups(scope, spans[0])
        versions = _versions_first_seen(scope, spans[0])
    error_types, error_nodes = _top_errors(groups)
    span = spans[0]
    alerts = client.alerts.select_related("client")
    return ClientReport(
        client=client,
        week=week,
        rows=_rows(_values(totals, durations)),
        error_types=error_types,
        error_nodes=error_nodes,
        alerts_opened=list(
            alerts.filter(opened_at__gte=span.start, opened_at__lt=span.end).order_by("opened_at")
        ),
        alerts_resolved=list(
            alerts.filter(resolved_at__gte=span.start, resolved_at__lt=span.end).order_by(
                "resolved_at"
            )
        ),
        versions_deployed=versions,
    )


# The owner's report ---------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerClientRow:
    client: Client
    rows: list[MetricRow]
    alerts_opened: int
    alerts_resolved: int

    @property
    def runs(self) -> int:
        return self.rows[0].samples


@dataclass
class OwnerReport(_WeekBounds):
    week: dt.date
    clients: list[OwnerClientRow]
    totals: list[MetricRow]
    error_types: list[Count] = field(default_factory=list)
    error_nodes: list[Count] = field(default_factory=list)
    alerts_opened: list[Alert] = field(default_factory=list)
    alerts_resolved: list[Alert] = field(default_factory=list)


def owner_report_all_clients_unscoped(*, week: dt.date) -> OwnerReport:
    """Every active client's week side by side, and the totals (the owner's; unscoped).

    One batched read for the clients' sums (``totals_by_client``); p95 needs a duration
    histogram, which the batched read has not, so it is given for the totals only (one
    histogram read over all clients), not per client.
    """
    week = week_monday(week)
    clients = list(Client.objects.filter(is_active=True).order_by("name"))
    ids = [c.pk for c in clients]
    spans = _spans(week)
    named = {str(index): span for index, span in enumerate(spans)}
    everyone = reads.Scope(client_id=None, client_ids=tuple(ids))
    with reads.read_snapshot():
        by_client = reads.totals_by_client(ids, named) if ids else {}
        durations = reads.duration_histograms(everyone, spans) if ids else [{} for _ in spans]
        groups = reads.error_groups(everyone, spans[0]) if ids else {}
    span = spans[0]
    alerts = Alert.objects.filter(client_id__in=ids).select_related("client")
    opened = list(
        alerts.filter(opened_at__gte=span.start, opened_at__lt=span.end).order_by("opened_at")
    )
    resolved = list(
        alerts.filter(resolved_at__gte=span.start, resolved_at__lt=span.end).order_by("resolved_at")
    )
    opened_per = Counter(a.client_id for a in opened)
    resolved_per = Counter(a.client_id for a in resolved)
    sums = [Totals() for _ in spans]
    rows = []
    for client in clients:
        found = by_client.get(client.pk) or {name: Totals() for name in named}
        client_totals = [found[str(index)] for index in range(len(spans))]
        for total, part in zip(sums, client_totals, strict=True):
            total.add(part.measures, None)
        rows.append(
            OwnerClientRow(
                client=client,
                rows=_rows(_values(client_totals, None)),
                alerts_opened=opened_per[client.pk],
                alerts_resolved=resolved_per[client.pk],
            )
        )
    error_types, error_nodes = _top_errors(groups)
    return OwnerReport(
        week=week,
        clients=rows,
        totals=_rows(_values(sums, durations)),
        error_types=error_types,
        error_nodes=error_nodes,
        alerts_opened=opened,
        alerts_resolved=resolved,
    )


# Who gets which report --------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """A user due a report: their client's (``client``) or, with none, the owner's."""

    user: AbstractBaseUser
    client: Client | None

    @property
    def email(self) -> str:
        return self.user.email


def report_recipients_unscoped() -> list[Recipient]:
    """Everyone due a weekly report, over every client (the sender's list).

    Each active client's active members get that client's report, and the active owners
    (staff) the owner's; those who turned the report off do not. A user with no
    notification settings row has the report on (the row is made when first needed).
    Users without an e-mail address are left out.
    """
    members = (
        Membership.objects.filter(client__is_active=True, user__is_active=True)
        .exclude(user__email="")
        .exclude(user__notification_settings__weekly_report=False)
        .select_related("user", "client")
        .order_by("client__name", "user__email")
    )
    owners = (
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .exclude(notification_settings__weekly_report=False)
        .order_by("email")
    )
    found = [Recipient(user=m.user, client=m.client) for m in members]
    return found + [Recipient(user=user, client=None) for user in owners]


def report_already_sent(*, week: dt.date, recipient: Recipient) -> bool:
    """Whether the recipient has had this week's report (their client's, or the owner's)."""
    sent = ReportDelivery.objects.filter(week=week_monday(week), email=recipient.email)
    if recipient.client is None:
        return sent.owners().exists()
    return sent.for_client(recipient.client).exists()
