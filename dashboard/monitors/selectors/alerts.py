"""What the alerts page, the owner's overview and the charts' markers read about alerts.

Alerts are always reached through the client the scoping decorator resolved
(``client.alerts``), never by id alone; the owner's counts over every client name
themselves ``_unscoped``. Charts read the read model (``collector.readmodel.reads``) and
compute each metric with ``dashboard.monitors.metrics.metric_value``, at a cost bounded by
the page size and the chart's hours, never by the number of logs or alerts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from collector.models import Client
from collector.readmodel import reads
from collector.readmodel.facts import day_floor, hour_floor
from dashboard.monitors.metrics import MEAN_METRICS, RATE_METRICS, metric_value
from dashboard.monitors.models import Alert, AlertState, Metric
from dashboard.reviews.readmodel import verdict_series

# Alerts per page. Each alert on a page has a chart (a rollup query and at most one raw
# edge scan), so this bounds the page's queries: ~2 per alert shown.
ALERTS_PER_PAGE = 10
# The alert's chart: hours shown before it opened, and after (up to now).
CHART_HOURS_BEFORE = 12
CHART_HOURS_AFTER = 12
# Markers read at most this many alerts in a chart's window (newest first); the rest are
# summed up in one "and N more" note by the page, not drawn.
MARKER_ALERTS_MAX = 50

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# A judged-correct alert's chart: days shown up to the one it opened in (and up to two
# after it).
VERDICT_CHART_DAYS = 14
UNRESOLVED = (AlertState.OPEN, AlertState.ACKNOWLEDGED)


def metric_kind(metric: str) -> str:
    """How a metric's values are formatted (the ``kpi`` filter's kinds)."""
    if metric in RATE_METRICS:
        return "pct"
    if metric in MEAN_METRICS:
        return "ratio"
    if metric == Metric.P95_EXECUTION:
        return "approx_seconds"
    return "int"


# The alerts page -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    bucket: dt.datetime
    value: float | None
    samples: int


@dataclass(frozen=True)
class AlertChart:
    """The metric per hour around an alert, with the band it was judged against (in the
    chart's unit: volume bands are per window, so they are scaled to per hour)."""

    metric: str
    label: str
    kind: str
    points: list[ChartPoint]
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    median: float | None
    low: float | None
    high: float | None


# Who acknowledged or resolved an alert, as a client user sees an owner (staff) who did:
# the owner's own address is not the client's to see.
STAFF_ACTOR = "the Flusso team"


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    metric_label: str
    kind: str
    latest_value: float | None
    logs_url: str
    chart: AlertChart | None
    acknowledged_by: str = ""
    resolved_by: str = ""

    @property
    def resolved_automatically(self) -> bool:
        return self.alert.state == AlertState.RESOLVED and self.alert.resolved_by_id is None


@dataclass(frozen=True)
class AlertPage:
    rows: list[AlertRow]
    page: Page
    open_count: int
    acknowledged_count: int


def _ordered(client: Client):
    """The client's alerts, unresolved first (open, then acknowledged), then resolved;
    newest first within each."""
    return client.alerts.annotate(
        state_order=Case(
            When(state=AlertState.OPEN, then=Value(0)),
            When(state=AlertState.ACKNOWLEDGED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    ).order_by("state_order", "-opened_at", "-pk")


def alert_list(*, client: Client) -> list[Alert]:
    """Every alert of the client in page order (for tests and small callers)."""
    return list(_ordered(client))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_logs_url(*, client: Client, alert: Alert) -> str:
    """The log viewer filtered to exactly the alert's window (the one the monitor judged)
    and environment: its own ``start``/``end`` parameters, [start, end) in UTC."""
    query = {"start": _iso(alert.window_start), "end": _iso(alert.window_end)}
    if alert.environment:
        query["environment"] = alert.environment
    return reverse("dashboard:logs", args=[client.slug]) + "?" + urlencode(query)


def _hour_buckets(start: dt.datetime, end: dt.datetime) -> list[reads.Span]:
    spans = []
    moment = hour_floor(start)
    while moment < end:
        spans.append(reads.Span(moment, min(moment + HOUR, end)))
        moment += HOUR
    return spans


def alert_chart(*, client: Client, alert: Alert, now: dt.datetime | None = None) -> AlertChart:
    """The alert's metric per UTC hour from CHART_HOURS_BEFORE before it opened to
    CHART_HOURS_AFTER after (or up to now), from the rollups: one ``series`` read (for
    p95, one ``duration_series`` read)."""
    now = now or timezone.now()
    start = hour_floor(alert.opened_at) - CHART_HOURS_BEFORE * HOUR
    end = max(min(now, alert.opened_at + CHART_HOURS_AFTER * HOUR), alert.opened_at)
    buckets = _hour_buckets(start, end)
    scope = reads.Scope(client_id=client.pk, environment=alert.environment)
    metric = alert.metric
    if metric == Metric.JUDGED_CORRECT:
        # Verdicts are sparse and judged over days: the share per UTC day, from the two
        # weeks before the alert opened (one read of the verdict counts).
        first = day_floor(alert.opened_at) - (VERDICT_CHART_DAYS - 1) * DAY
        last = max(min(now, day_floor(alert.opened_at) + 3 * DAY), alert.opened_at)
        buckets = [
            reads.Span(first + i * DAY, min(first + (i + 1) * DAY, last))
            for i in range(VERDICT_CHART_DAYS + 2)
            if first + i * DAY < last
        ]
        values = [
            metric_value(metric, reads.Totals(), verdicts=counts)
            for counts in verdict_series(scope, buckets)
        ]
    elif metric == Metric.P95_EXECUTION:
        values = [
            metric_value(metric, reads.Totals(), histogram)
            for histogram in reads.duration_series(scope, buckets)
        ]
    else:
        values = [metric_value(metric, total) for total in reads.series(scope, buckets)]
    median, low, high = alert.baseline_median, alert.baseline_low, alert.baseline_high
    if metric in (Metric.VOLUME, Metric.SILENCE):
        # The band is in runs per monitor window; the chart counts runs per hour.
        window_minutes = alert.monitor.window_minutes or 60
        scale = 60 / window_minutes
        median, low, high = (None if v is None else v * scale for v in (median, low, high))
    return AlertChart(
        metric=metric,
        label=Metric(metric).label,
        kind=metric_kind(metric),
        points=[
            ChartPoint(bucket=span.start, value=value.value, samples=value.samples)
            for span, value in zip(buckets, values, strict=True)
        ],
        opened_at=alert.opened_at,
        resolved_at=alert.resolved_at,
        median=median,
        low=low,
        high=high,
    )


def actor_label(user: AbstractBaseUser | None, *, viewer_is_staff: bool) -> str:
    """Who did something to an alert, as the viewer may see it: an owner (staff) is "the
    Flusso team" to a client user, anyone else their e-mail address (or user name)."""
    if user is None:
        return "a removed user"
    if user.is_staff and not viewer_is_staff:
        return STAFF_ACTOR
    return user.email or user.get_username()


def alert_page(
    *,
    client: Client,
    page: int | str = 1,
    now: dt.datetime | None = None,
    viewer_is_staff: bool = False,
) -> AlertPage:
    """One page of the client's alerts with their charts, and the unresolved counts.

    A page number out of range shows the last page; one that is not a number, the first.
    Who acknowledged or resolved each is named as ``actor_label`` puts it for the viewer
    (a client user, unless ``viewer_is_staff``).
    """
    now = now or timezone.now()
    paginator = Paginator(
        _ordered(client).select_related("monitor", "acknowledged_by", "resolved_by"),
        ALERTS_PER_PAGE,
    )
    current = paginator.get_page(page)
    counts = client.alerts.filter(state__in=UNRESOLVED).aggregate(
        open=Count("pk", filter=Q(state=AlertState.OPEN)),
        acknowledged=Count("pk", filter=Q(state=AlertState.ACKNOWLEDGED)),
    )
    rows = []
    with reads.read_snapshot():
        for alert in current.object_list:
            rows.append(
                AlertRow(
                    alert=alert,
                    metric_label=alert.get_metric_display(),
                    kind=metric_kind(alert.metric),
                    latest_value=alert.last_value if alert.last_value is not None else alert.value,
                    logs_url=alert_logs_url(client=client, alert=alert),
                    chart=alert_chart(client=client, alert=alert, now=now),
                    acknowledged_by=actor_label(
                        alert.acknowledged_by, viewer_is_staff=viewer_is_staff
                    )
                    if alert.acknowledged_at
                    else "",
                    resolved_by=actor_label(alert.resolved_by, viewer_is_staff=viewer_is_staff)
                    if alert.resolved_by_id
                    else "",
                )
            )
    return AlertPage(
        rows=rows,
        page=current,
        open_count=counts["open"],
        acknowledged_count=counts["acknowledged"],
    )


def alert_get(*, client: Client, alert_id: int) -> Alert | None:
    """The client's alert with this id; None for an alert of another client (or none):
    the id alone grants nothing."""
    return client.alerts.filter(pk=alert_id).first()


def alert_open_count(*, client: Client) -> int:
    """The client's unresolved alerts (the nav's badge): one indexed count."""
    return client.alerts.filter(state__in=UNRESOLVED).count()


def alert_unresolved_list(*, client: Client, limit: int) -> list[Alert]:
    """The client's newest unresolved alerts, open before acknowledged (the dashboard's
    banner): one indexed query of at most ``limit`` rows."""
    return list(_ordered(client).filter(state__in=UNRESOLVED)[:limit])


def alert_open_counts_unscoped() -> dict[int, int]:
    """Unresolved alerts per client id, over every client (the owner's overview): one
    grouped query, whatever the number of clients. NOT scoped to a user."""
    return dict(
        Alert.objects.filter(state__in=UNRESOLVED)
        .values("client_id")
        .annotate(n=Count("pk"))
        .values_list("client_id", "n")
        .order_by()
    )


# Markers on the dashboard's charts --------------------------------------------------------


@dataclass(frozen=True)
class ChartMarker:
    """A moment drawn on the time-series charts: an alert opening or a version's first hour."""

    at: dt.datetime
    kind: str  # "alert", "version" (or "resolved", on an alert's own chart)
    label: str
    url: str = ""
    # Versions: the one deployed before it (the comparison's other side), if any.
    previous: str = ""


def compare_url(
    *, client: Client, previous: str | None, version: str, extra: dict[str, str] | None = None
) -> str:
    """The comparison page of a version against the one before it (``previous``; without
    one the page asks which), with ``extra`` query parameters (the dashboard's period)."""
    query = {"dimension": "version", **({"a": previous} if previous else {}), "b": version}
    query.update(extra or {})
    return reverse("dashboard:compare", args=[client.slug]) + "?" + urlencode(query)


@dataclass(frozen=True)
class ChartMarkers:
    """The markers to draw, and how many alerts opened in the window in all: at most
    MARKER_ALERTS_MAX of them are drawn (the newest), the page says how many more."""

    markers: list[ChartMarker]
    alerts_opened: int

    @property
    def alerts(self) -> list[ChartMarker]:
        return [m for m in self.markers if m.kind == "alert"]

    @property
    def versions(self) -> list[ChartMarker]:
        return [m for m in self.markers if m.kind == "version"]

    @property
    def alerts_not_drawn(self) -> int:
        return self.alerts_opened - len(self.alerts)


def chart_markers(
    *,
    client: Client,
    start: dt.datetime,
    end: dt.datetime,
    environment: str = "",
    compare_query: dict[str, str] | None = None,
) -> ChartMarkers:
    """Alerts that opened, and versions that first appeared after another, in
    [start, end); oldest first, with the number of alerts opened in all.

    With an environment, that environment's alerts (and alerts over all environments)
    and the versions first seen in it. A version's "compare with" link carries
    ``compare_query`` (the dashboard's period), so the comparison covers the window the
    marker was seen in. Two rollup queries and one alert query (a second, a count, only
    when more than MARKER_ALERTS_MAX alerts opened).
    """
    alerts = client.alerts.filter(opened_at__gte=start, opened_at__lt=end)
    if environment:
        alerts = alerts.filter(environment__in=[environment, ""])
    newest = list(
        alerts.order_by("-opened_at").values_list("opened_at", "metric", "environment")[
            : MARKER_ALERTS_MAX + 1
        ]
    )
    opened = len(newest) if len(newest) <= MARKER_ALERTS_MAX else alerts.count()
    markers = [
        ChartMarker(
            at=opened_at,
            kind="alert",
            label=f"alert: {Metric(metric).label}" + (f" ({env})" if env else ""),
            url=reverse("dashboard:alerts", args=[client.slug]),
        )
        for opened_at, metric, env in newest[:MARKER_ALERTS_MAX]
    ]
    first_hours = reads.version_first_hours(
        reads.Scope(client_id=client.pk, environment=environment), until=end
    )
    ordered = sorted(first_hours.items(), key=lambda item: (item[1], item[0]))
    # The client's first version is when it started sending logs, not a deployment: only
    # a version that followed another is marked.
    for (previous, _), (version, first) in itertools.pairwise(ordered):
        if start <= first < end:
            markers.append(
                ChartMarker(
                    at=first,
                    kind="version",
                    label=f"version {version} first seen",
                    url=compare_url(
                        client=client, previous=previous, version=version, extra=compare_query
                    ),
                    previous=previous,
                )
            )
    return ChartMarkers(
        markers=sorted(markers, key=lambda m: (m.at, m.kind, m.label)), alerts_opened=opened
    )
