"""The dashboards' numbers, read from the read model (``collector.readmodel``).

Every function takes ``client=`` (the owner's overview is in ``overview``) and costs the
same at ten thousand logs as at a hundred million: rollups for the whole hours (and, for
percentiles, whole days) of a window, a bounded raw scan for its edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.utils import timezone

from collector.models import Client, LogStatus, WorkflowLog
from collector.readmodel import reads
from collector.readmodel.facts import (
    CALIBRATION_BUCKETS,
    EXECUTION_TIME_EDGES,
    STATUS_COLUMNS,
    percentile_from_histogram,
)

STATUSES = [s.value for s in LogStatus]
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

    @property
    def span(self) -> reads.Span:
        return reads.Span(self.start, self.end)


@dataclass(frozen=True)
class DashboardFilters:
    window: Window
    environment: str = ""
    version: str = ""


def _scope(*, client: Client, filters: DashboardFilters) -> reads.Scope:
    return reads.Scope(
        client_id=client.pk, environment=filters.environment, version=filters.version
    )


def _mean(total: reads.Totals, prefix: str) -> float | None:
    count = total[f"{prefix}_n"]
    return total[f"{prefix}_sum"] / count if count else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def client_has_logs(*, client: Client) -> bool:
    """Whether the client ever sent a log: one index probe, whatever its size."""
    return WorkflowLog.objects.for_client(client).exists()


def client_filter_options(*, client: Client, window: Window) -> dict[str, list[str]]:
    """Environments and versions with runs in the window (the filter menus)."""
    pairs = reads.dimensions(reads.Scope(client_id=client.pk), window.span)
    return {
        "environments": sorted({environment for environment, _ in pairs}),
        "versions": sorted({version for _, version in pairs if version}),
    }


# KPIs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiValues:
    # Runs of the workflow; a ticket run twice counts twice (the read model has no
    # distinct-ticket count: see docs/dashboard.md).
    runs: int = 0
    successes: int = 0
    escalations: int = 0
    avg_confidence: float | None = None
    avg_hallucination_risk: float | None = None
    median_execution_seconds: float | None = None
    p95_execution_seconds: float | None = None
    avg_react_iterations: float | None = None

    @property
    def success_rate(self) -> float | None:
        return _rate(self.successes, self.runs)

    @property
    def escalation_rate(self) -> float | None:
        return _rate(self.escalations, self.runs)


@dataclass(frozen=True)
class Kpis:
    current: KpiValues
    previous: KpiValues


def _kpi_values(total: reads.Totals, durations: dict[int, int]) -> KpiValues:
    return KpiValues(
        runs=int(total["runs"]),
        successes=int(total["n_success"]),
        escalations=int(total[STATUS_COLUMNS[LogStatus.ESCALATED]]),
        avg_confidence=_mean(total, "conf"),
        avg_hallucination_risk=_mean(total, "risk"),
        median_execution_seconds=percentile_from_histogram(durations, 0.5),
        p95_execution_seconds=percentile_from_histogram(durations, 0.95),
        avg_react_iterations=_mean(total, "iter"),
    )


def _kpis(
    scope: reads.Scope, current: reads.Totals, previous: reads.Totals, filters: DashboardFilters
) -> Kpis:
    spans = [filters.window.span, filters.window.previous.span]
    current_durations, previous_durations = reads.duration_histograms(scope, spans)
    return Kpis(
        current=_kpi_values(current, current_durations),
        previous=_kpi_values(previous, previous_durations),
    )


def client_kpis(*, client: Client, filters: DashboardFilters) -> Kpis:
    """The KPI cards for the window and the previous window, from the read model.

    Counts and means are exact; the median and p95 execution time come from the duration
    histogram, within 2 % of the exact values (``DURATION_RELATIVE_ERROR``).
    """
    scope = _scope(client=client, filters=filters)
    current, previous = reads.totals(scope, [filters.window.span, filters.window.previous.span])
    return _kpis(scope, current, previous, filters)


# Series ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    bucket: datetime
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    avg_confidence: float | None = None
    avg_hallucination_risk: float | None = None
    # The part of the bucket inside the window, when the window starts or ends inside it
    # (the current hour or day of a rolling period): its figures are not a whole bucket's.
    covered: tuple[datetime, datetime] | None = None

    @property
    def success_rate(self) -> float | None:
        return _rate(self.by_status.get(LogStatus.SUCCESS, 0), self.total)

    @property
    def partial(self) -> bool:
        return self.covered is not None


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
    starts = _buckets(window, window.hourly)
    ends = [*starts[1:], _bucket_end(starts[-1], window.hourly)] if starts else []
    spans = [
        reads.Span(max(start, window.start), min(end, window.end))
        for start, end in zip(starts, ends, strict=True)
    ]
    points = []
    for start, end, span, total in zip(
        starts,
        ends,
        spans,
        reads.series(_scope(client=client, filters=filters), spans),
        strict=True,
    ):
        whole = span.start == start and span.end == end
        points.append(
            SeriesPoint(
                bucket=start,
                total=int(total["runs"]),
                by_status={s: int(total[STATUS_COLUMNS[s]]) for s in STATUSES},
                avg_confidence=_mean(total, "conf"),
                avg_hallucination_risk=_mean(total, "risk"),
                covered=None if whole else (span.start, span.end),
            )
        )
    return points


def _bucket_end(start: datetime, hourly: bool) -> datetime:
    """Where the bucket starting at ``start`` ends (the next local midnight for a day)."""
    if hourly:
        return start + timedelta(hours=1)
    tz = timezone.get_current_timezone()
    next_day = start.astimezone(tz).date() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(next_day, time.min), tz)


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
    """The execution-time histogram and the calibration buckets, from the read model.

    Histogram buckets are [low, high). Calibration is the success rate per confidence
    bucket [low, high), the last one closed so a confidence of exactly 1.0 counts: does the
    workflow's confidence predict success?
    """
    (total,) = reads.totals(_scope(client=client, filters=filters), [filters.window.span])
    return _distributions(total)


def _distributions(total: reads.Totals) -> Distributions:
    return Distributions(
        execution_time=[
            HistogramBucket(
                label=f"{low}-{high} s" if high is not None else f"≥ {low} s",
                low=low,
                high=high,
                count=int(total[f"exec_h{i}"]),
            )
            for i, (low, high) in enumerate(_histogram_bounds())
        ],
        calibration=[
            CalibrationBucket(
                low=low, high=high, runs=int(total[f"cal_n{i}"]), successes=int(total[f"cal_s{i}"])
            )
            for i, (low, high) in enumerate(_calibration_bounds())
        ],
    )


@dataclass(frozen=True)
class ErrorGroup:
    key: str
    count: int
    last_seen: datetime


@dataclass(frozen=True)
class ErrorBreakdown:
    by_type: list[ErrorGroup]
    by_node: list[ErrorGroup]


def _error_groups(
    groups: dict[tuple[str, str], tuple[int, datetime | None]], part: int
) -> list[ErrorGroup]:
    """(type, node) groups merged on one of the two (``part`` 0 or 1)."""
    merged: dict[str, ErrorGroup] = {}
    for key, (count, last_seen) in groups.items():
        name = key[part]
        if not name or last_seen is None:
            continue
        seen = merged.get(name)
        merged[name] = ErrorGroup(
            key=name,
            count=count + (seen.count if seen else 0),
            last_seen=max(last_seen, seen.last_seen) if seen else last_seen,
        )
    return sorted(merged.values(), key=lambda g: (-g.count, g.key))


def client_errors(*, client: Client, filters: DashboardFilters) -> ErrorBreakdown:
    """Runs with an error, by error type and by workflow node, from the error rollups."""
    groups = reads.error_groups(_scope(client=client, filters=filters), filters.window.span)
    return ErrorBreakdown(by_type=_error_groups(groups, 0), by_node=_error_groups(groups, 1))


@dataclass(frozen=True)
class DashboardNumbers:
    """Everything a client dashboard shows, read once."""

    kpis: Kpis
    series: list[SeriesPoint]
    distributions: Distributions
    errors: ErrorBreakdown
    options: dict[str, list[str]]


def client_dashboard_numbers(*, client: Client, filters: DashboardFilters) -> DashboardNumbers:
    """The client dashboard's figures: the window's totals are read once for the KPI cards
    and the distributions."""
    scope = _scope(client=client, filters=filters)
    with reads.read_snapshot():
        spans = [filters.window.span, filters.window.previous.span]
        current, previous = reads.totals(scope, spans)
        return DashboardNumbers(
            kpis=_kpis(scope, current, previous, filters),
            series=client_time_series(client=client, filters=filters),
            distributions=_distributions(current),
            errors=client_errors(client=client, filters=filters),
            options=client_filter_options(client=client, window=filters.window),
        )
