"""The dashboards' numbers, aggregated in the database from the typed metric columns.

Every function takes ``client=`` (except the owner's deliberately unscoped overview) and
runs one or a few grouped queries over the (client, timestamp, id) index range of its
window: conditional aggregation (``Count(..., filter=Q(...))``) rather than one query per
series, and never rows loaded into Python to be counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, Max, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from collector.models import Client, LogStatus, WorkflowLog
from dashboard.selectors.percentiles import (
    PercentilesCont,
    percentile_cont_by_offset,
    supports_percentile_cont,
)

STATUSES = [s.value for s in LogStatus]
# Upper edges (seconds) of the execution-time histogram; a last open bucket holds the rest.
# Runs take seconds to a minute: finer at the short end where most runs fall.
EXECUTION_TIME_EDGES = [2, 4, 6, 8, 10, 15, 20, 30, 60]
# Confidence buckets for calibration: ten of width 0.1 (confidence is in [0, 1]).
CALIBRATION_BUCKETS = 10
# Windows up to this long are charted per hour, longer ones per day.
HOURLY_UP_TO = timedelta(days=2)


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end)."""

    start: datetime
    end: datetime

    @property
    def previous(self) -> Window:
        """The window of the same length just before this one."""
        return Window(self.start - (self.end - self.start), self.start)

    @property
    def hourly(self) -> bool:
        """Whether series over this window are per hour (short windows) rather than per day."""
        return self.end - self.start <= HOURLY_UP_TO

    def q(self, prefix: str = "") -> Q:
        return Q(**{f"{prefix}timestamp__gte": self.start, f"{prefix}timestamp__lt": self.end})


@dataclass(frozen=True)
class DashboardFilters:
    window: Window
    environment: str = ""
    version: str = ""


def _scoped(*, client: Client, filters: DashboardFilters) -> QuerySet[WorkflowLog]:
    qs = WorkflowLog.objects.filter(client=client)
    if filters.environment:
        qs = qs.filter(environment=filters.environment)
    if filters.version:
        qs = qs.filter(workflow_version=filters.version)
    return qs


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def client_has_logs(*, client: Client) -> bool:
    return WorkflowLog.objects.filter(client=client).exists()


def client_filter_options(*, client: Client, window: Window) -> dict[str, list[str]]:
    """Environments and versions seen in the window (the filter menus), in one query."""
    pairs = (
        WorkflowLog.objects.filter(client=client)
        .filter(window.q())
        .values_list("environment", "workflow_version")
        .order_by()
        .distinct()
    )
    environments: set[str] = set()
    versions: set[str] = set()
    for environment, version in pairs:
        environments.add(environment)
        if version:
            versions.add(version)
    return {"environments": sorted(environments), "versions": sorted(versions)}


# KPIs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiValues:
    runs: int = 0  # tickets processed: each run of the workflow processes one ticket
    successes: int = 0
    avg_confidence: float | None = None
    avg_hallucination_risk: float | None = None
    median_execution_seconds: float | None = None
    p95_execution_seconds: float | None = None
    avg_react_iterations: float | None = None

    @property
    def success_rate(self) -> float | None:
        return _rate(self.successes, self.runs)


@dataclass(frozen=True)
class Kpis:
    current: KpiValues
    previous: KpiValues


def client_kpis(*, client: Client, filters: DashboardFilters) -> Kpis:
    """The KPI cards for the window and the previous window, in one aggregate query.

    On PostgreSQL the percentiles are part of that query; elsewhere each takes one more
    small ORDER BY/OFFSET query.
    """
    qs = _scoped(client=client, filters=filters)
    windows = {"cur": filters.window, "prev": filters.window.previous}
    postgres = supports_percentile_cont(qs)
    aggregates: dict[str, Any] = {}
    for key, window in windows.items():
        in_window = window.q()
        aggregates |= {
            f"{key}_runs": Count("id", filter=in_window),
            f"{key}_successes": Count("id", filter=in_window & Q(status=LogStatus.SUCCESS)),
            f"{key}_conf": Avg("overall_confidence", filter=in_window),
            f"{key}_risk": Avg("hallucination_risk", filter=in_window),
            f"{key}_iter": Avg("react_iterations", filter=in_window),
            f"{key}_timed": Count("execution_time_seconds", filter=in_window),
        }
        if postgres:
            # One sort per window for both percentiles.
            aggregates[f"{key}_pct"] = PercentilesCont(
                "execution_time_seconds", [0.5, 0.95], filter=in_window
            )
    span = Window(filters.window.previous.start, filters.window.end)
    row = qs.filter(span.q()).aggregate(**aggregates)

    values = {}
    for key, window in windows.items():
        if postgres:
            p50, p95 = row[f"{key}_pct"] or (None, None)
        else:
            in_window = qs.filter(window.q())
            timed = row[f"{key}_timed"]
            p50 = percentile_cont_by_offset(in_window, "execution_time_seconds", 0.5, timed)
            p95 = percentile_cont_by_offset(in_window, "execution_time_seconds", 0.95, timed)
        values[key] = KpiValues(
            runs=row[f"{key}_runs"],
            successes=row[f"{key}_successes"],
            avg_confidence=row[f"{key}_conf"],
            avg_hallucination_risk=row[f"{key}_risk"],
            median_execution_seconds=p50,
            p95_execution_seconds=p95,
            avg_react_iterations=row[f"{key}_iter"],
        )
    return Kpis(current=values["cur"], previous=values["prev"])


# Series ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    bucket: datetime
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    avg_confidence: float | None = None
    avg_hallucination_risk: float | None = None

    @property
    def success_rate(self) -> float | None:
        return _rate(self.by_status.get(LogStatus.SUCCESS, 0), self.total)


def _buckets(window: Window, hourly: bool) -> list[datetime]:
    """Every bucket start of the window, as the database truncates them.

    Hours step in absolute time; days step over calendar dates, so a day of 23 or 25 hours
    (a daylight-saving change) still starts at local midnight.
    """
    tz = timezone.get_current_timezone()
    local_start = window.start.astimezone(tz)
    buckets: list[datetime] = []
    if hourly:
        moment = local_start.replace(minute=0, second=0, microsecond=0)
        while moment < window.end:
            buckets.append(moment)
            moment = (moment + timedelta(hours=1)).astimezone(tz)
        return buckets
    day = local_start.date()
    while (moment := timezone.make_aware(datetime.combine(day, time.min), tz)) < window.end:
        buckets.append(moment)
        day += timedelta(days=1)
    return buckets


def client_time_series(*, client: Client, filters: DashboardFilters) -> list[SeriesPoint]:
    """Runs per status, average confidence and risk per hour (short windows) or day.

    Buckets are in the current time zone; empty buckets are present with zero runs.
    """
    window = filters.window
    hourly = window.hourly
    tz = timezone.get_current_timezone()
    trunc = TruncHour if hourly else TruncDay
    rows = (
        _scoped(client=client, filters=filters)
        .filter(window.q())
        .annotate(bucket=trunc("timestamp", tzinfo=tz))
        .values("bucket")
        .annotate(
            total=Count("id"),
            avg_confidence=Avg("overall_confidence"),
            avg_risk=Avg("hallucination_risk"),
            **{f"n_{s}": Count("id", filter=Q(status=s)) for s in STATUSES},
        )
        .order_by("bucket")
    )
    found = {
        row["bucket"]: SeriesPoint(
            bucket=row["bucket"],
            total=row["total"],
            by_status={s: row[f"n_{s}"] for s in STATUSES},
            avg_confidence=row["avg_confidence"],
            avg_hallucination_risk=row["avg_risk"],
        )
        for row in rows
    }
    return [
        found.get(b, SeriesPoint(bucket=b, by_status=dict.fromkeys(STATUSES, 0)))
        for b in _buckets(window, hourly)
    ]


@dataclass(frozen=True)
class HistogramBucket:
    label: str
    low: float
    high: float | None
    count: int


@dataclass(frozen=True)
class CalibrationBucket:
    low: float
    high: float
    runs: int
    successes: int

    @property
    def label(self) -> str:
        return f"{self.low:.1f}-{self.high:.1f}"

    @property
    def success_rate(self) -> float | None:
        return _rate(self.successes, self.runs)


@dataclass(frozen=True)
class Distributions:
    execution_time: list[HistogramBucket]
    calibration: list[CalibrationBucket]


def _histogram_bounds() -> list[tuple[float, float | None]]:
    lows = [0, *EXECUTION_TIME_EDGES]
    highs: list[float | None] = [*EXECUTION_TIME_EDGES, None]
    return list(zip(lows, highs, strict=True))


def _calibration_bounds() -> list[tuple[float, float]]:
    return [
        (i / CALIBRATION_BUCKETS, (i + 1) / CALIBRATION_BUCKETS) for i in range(CALIBRATION_BUCKETS)
    ]


def client_distributions(*, client: Client, filters: DashboardFilters) -> Distributions:
    """The execution-time histogram and the calibration buckets, in one aggregate query.

    Histogram buckets are [low, high). Calibration is the success rate per confidence
    bucket [low, high), the last one closed so a confidence of exactly 1.0 counts: does the
    workflow's confidence predict success?
    """
    aggregates: dict[str, Any] = {}
    for i, (low, high) in enumerate(_histogram_bounds()):
        condition = Q(execution_time_seconds__gte=low)
        if high is not None:
            condition &= Q(execution_time_seconds__lt=high)
        aggregates[f"h{i}"] = Count("id", filter=condition)
    calibration = _calibration_bounds()
    for i, (low, high) in enumerate(calibration):
        condition = Q(overall_confidence__gte=low)
        if i == len(calibration) - 1:
            condition &= Q(overall_confidence__lte=high)
        else:
            condition &= Q(overall_confidence__lt=high)
        aggregates[f"r{i}"] = Count("id", filter=condition)
        aggregates[f"s{i}"] = Count("id", filter=condition & Q(status=LogStatus.SUCCESS))
    row = _scoped(client=client, filters=filters).filter(filters.window.q()).aggregate(**aggregates)
    return Distributions(
        execution_time=[
            HistogramBucket(
                label=f"{low}-{high} s" if high is not None else f"≥ {low} s",
                low=low,
                high=high,
                count=row[f"h{i}"],
            )
            for i, (low, high) in enumerate(_histogram_bounds())
        ],
        calibration=[
            CalibrationBucket(low=low, high=high, runs=row[f"r{i}"], successes=row[f"s{i}"])
            for i, (low, high) in enumerate(calibration)
        ],
    )


def client_execution_time_histogram(
    *, client: Client, filters: DashboardFilters
) -> list[HistogramBucket]:
    return client_distributions(client=client, filters=filters).execution_time


def client_calibration(*, client: Client, filters: DashboardFilters) -> list[CalibrationBucket]:
    return client_distributions(client=client, filters=filters).calibration


@dataclass(frozen=True)
class ErrorGroup:
    key: str
    count: int
    last_seen: datetime


@dataclass(frozen=True)
class ErrorBreakdown:
    by_type: list[ErrorGroup]
    by_node: list[ErrorGroup]


def _error_groups(rows: list[dict[str, Any]], key: str) -> list[ErrorGroup]:
    """Groups of (type, node) rows merged on one key; sums of a handful of group rows."""
    merged: dict[str, ErrorGroup] = {}
    for row in rows:
        name = row[key]
        if not name:
            continue
        seen = merged.get(name)
        merged[name] = ErrorGroup(
            key=name,
            count=row["count"] + (seen.count if seen else 0),
            last_seen=max(row["last_seen"], seen.last_seen) if seen else row["last_seen"],
        )
    return sorted(merged.values(), key=lambda g: (-g.count, g.key))


def client_errors(*, client: Client, filters: DashboardFilters) -> ErrorBreakdown:
    """Runs with an error, by error type and by workflow node, from one grouped query."""
    rows = list(
        _scoped(client=client, filters=filters)
        .filter(filters.window.q())
        .exclude(error_type="", error_node="")
        .values("error_type", "error_node")
        .annotate(count=Count("id"), last_seen=Max("timestamp"))
        .order_by()
    )
    return ErrorBreakdown(
        by_type=_error_groups(rows, "error_type"), by_node=_error_groups(rows, "error_node")
    )


def client_errors_by_type(*, client: Client, filters: DashboardFilters) -> list[ErrorGroup]:
    return client_errors(client=client, filters=filters).by_type


def client_errors_by_node(*, client: Client, filters: DashboardFilters) -> list[ErrorGroup]:
    return client_errors(client=client, filters=filters).by_node
