"""What the monitors read, for every client at once: the read model's figures per
(client, environment) over each window and its baseline weeks, the last logs, and the
silence gaps' expected counts (docs/monitors.md). Reads only collector.readmodel.reads,
in a fixed number of queries whatever the number of clients or logs."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from collector.readmodel.facts import HOURLY_MEASURES, hour_ceil, hour_floor
from collector.readmodel.reads import (
    ClientEnvironment,
    Span,
    Totals,
    hourly_runs_by_client_environment,
    last_log_by_client_environment,
    read_snapshot,
    windows_by_client_environment,
)
from dashboard.monitors.metrics import MetricValue, metric_value
from dashboard.monitors.models import Metric, Monitor, MonitorKind
from dashboard.monitors.statistics import median
from dashboard.reviews.readmodel import VerdictCounts, verdict_totals_by_client_environment

WEEK = dt.timedelta(days=7)
HOUR = dt.timedelta(hours=1)
# The baseline: the same window in each of the previous 6 weeks (those with data). Six
# gives the median and MAD enough points to ignore one or two odd weeks (a holiday, an
# incident) while the normal still follows a client that grows over a quarter.
BASELINE_WEEKS = 6
# A new client (or environment) is judged against its own normal only once it has data
# in at least 2 of the baseline weeks, so about two weeks after its first log.
MIN_BASELINE_WEEKS = 2
# Silence: P(no log in the gap) = exp(-expected) below this opens (expected > 13.8 logs).
# Every gap between two logs is such a test, thousands a day for a busy client: at 0.001
# a client sending 100 logs an hour at random (Poisson, 2,400 gaps a day) went silent
# about every 1,000 gaps, twice a day; at 1e-6 once in a million gaps, about 400 days...
SILENCE_P_VALUE = 1e-6
# ...and a gap shorter than this is never a silence, however busy the client (a lull of a
# few minutes is not worth waking anyone for; the volume monitor sees a slowdown).
SILENCE_MIN_MINUTES = 15
# The gap's expected count looks back at most a week (a client silent for longer is
# judged on the last week of its gap, which is more than enough to say).
SILENCE_LOOKBACK = dt.timedelta(days=7)
# Gap lengths (hours) whose whole-hour stretches are read to rule most gaps out cheaply.
SILENCE_BOUND_HOURS = (24, 72)
# The measures the monitors read (a narrower select for the rollup sums and edges).
MEASURES = tuple(
    name
    for name in HOURLY_MEASURES
    if name in {"runs", "n_success", "n_failed", "n_error", "n_escalated"}
    or name in {"conf_n", "conf_sum", "risk_n", "risk_sum"}
)


@dataclass(frozen=True, slots=True)
class MonitorRow:
    """What judging a monitor needs (15,000 model instances cost a second to build)."""

    pk: int
    client_id: int
    metric: str
    kind: str
    environment: str
    window_minutes: int
    comparison: str
    threshold: float | None
    sensitivity: float
    min_samples: int
    cooldown_minutes: int

    @classmethod
    def enabled(cls) -> list[MonitorRow]:
        rows = (
            Monitor.objects.filter(enabled=True, client__is_active=True)
            .order_by("client_id", "pk")
            .values_list(*(f if f != "pk" else "id" for f in cls.__dataclass_fields__))
        )
        return [cls(*row) for row in rows]

    def model(self) -> Monitor:
        """A Monitor to hand to services.alerts (which reads its pk, client and metric)."""
        return Monitor(pk=self.pk, client_id=self.client_id, metric=self.metric)


def span_recent(window: int) -> str:
    return f"r{window}"


def span_base(window: int, week: int) -> str:
    return f"b{window}/{week}"


def span_presence(week: int) -> str:
    return f"p{week}"


def span_bound(hours: int, week: int) -> str:
    return f"s{hours}/{week}"


@dataclass
class Readings:
    """Everything the monitors read, for all clients, per (client, environment)."""

    now: dt.datetime
    totals: dict[ClientEnvironment, dict[str, Totals]]
    histograms: dict[ClientEnvironment, dict[str, dict[int, int]]]
    weeks: dict[ClientEnvironment, list[int]]
    last_log: dict[ClientEnvironment, dt.datetime]
    silence_expected: dict[ClientEnvironment, tuple[float, list[float]]]
    # client -> its environments with runs in some span (built once: judging asks often).
    seen: dict[int, list[str]] = field(default_factory=dict)
    # The verdict counts of the judged-correct monitors' spans (dashboard.reviews).
    verdicts: dict[ClientEnvironment, dict[str, VerdictCounts]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for (client_id, environment), spans in self.totals.items():
            if any(t["runs"] > 0 for t in spans.values()):
                self.seen.setdefault(client_id, []).append(environment)
        for environments in self.seen.values():
            environments.sort()

    def environments(self, client_id: int) -> list[str]:
        return self.seen.get(client_id, [])

    def value(self, metric: str, keys: Sequence[ClientEnvironment], span: str) -> MetricValue:
        """The metric over a span for one (client, environment), or summed over several."""
        if metric == Metric.JUDGED_CORRECT:
            counts = VerdictCounts()
            for key in keys:
                found = self.verdicts.get(key, {}).get(span)
                if found is not None:
                    counts.merge(found)
            return metric_value(metric, Totals(), verdicts=counts)
        if len(keys) == 1:
            spans = self.totals.get(keys[0])
            histogram = self.histograms.get(keys[0], {}).get(span)
            return metric_value(metric, spans[span] if spans else Totals(), histogram)
        total = Totals()
        histogram: dict[int, int] = {}
        for key in keys:
            spans = self.totals.get(key)
            if spans is not None:
                total.add(spans[span].measures, None)
            for bucket, runs in self.histograms.get(key, {}).get(span, {}).items():
                histogram[bucket] = histogram.get(bucket, 0) + runs
        return metric_value(metric, total, histogram)


def _spans(now: dt.datetime, monitors: Sequence[MonitorRow]) -> tuple[dict, dict, dict]:
    """The named spans to read: recent windows, the baseline weeks' windows (for baseline
    monitors), and each baseline week whole (whether the client had data that week); the
    judged-correct monitors' windows are read from the verdict counts instead."""
    totals: dict[str, Span] = {}
    histograms: dict[str, Span] = {}
    verdicts: dict[str, Span] = {}
    # Week 0 (the last seven days) only tells which environments a client has (a new
    # client's threshold monitors); weeks 1 to 6 are the baseline weeks.
    for week in range(BASELINE_WEEKS + 1):
        totals[span_presence(week)] = Span(now - (week + 1) * WEEK, now - week * WEEK)
    if any(monitor.metric == Metric.SILENCE for monitor in monitors):
        # Whole hours around the same stretch in each baseline week: they bound a silence
        # gap's expected count (see _silence_bounds) without any raw edge to read.
        for hours in SILENCE_BOUND_HOURS:
            for week in range(1, BASELINE_WEEKS + 1):
                end = now - week * WEEK
                totals[span_bound(hours, week)] = Span(
                    hour_floor(end - hours * HOUR), hour_ceil(end)
                )
    for monitor in monitors:
        if monitor.metric == Metric.SILENCE:
            continue
        window = dt.timedelta(minutes=monitor.window_minutes)
        named = {span_recent(monitor.window_minutes): Span(now - window, now)}
        if monitor.kind == MonitorKind.BASELINE:
            for week in range(1, BASELINE_WEEKS + 1):
                end = now - week * WEEK
                named[span_base(monitor.window_minutes, week)] = Span(end - window, end)
        if monitor.metric == Metric.JUDGED_CORRECT:
            verdicts.update(named)
            continue
        totals.update(named)
        if monitor.metric == Metric.P95_EXECUTION:
            histograms.update(named)
    return totals, histograms, verdicts


def _overlap(start: dt.datetime, end: dt.datetime, hour: dt.datetime) -> float:
    """The share of the UTC hour starting at ``hour`` that lies in [start, end)."""
    seconds = (min(end, hour + HOUR) - max(start, hour)).total_seconds()
    return max(0.0, seconds / 3600)


def _silence_expected(
    now: dt.datetime,
    candidates: dict[ClientEnvironment, dt.datetime],
    weeks: dict[ClientEnvironment, list[int]],
) -> dict[ClientEnvironment, tuple[float, list[float]]]:
    """Per (client, environment) whose last log was at ``candidates[key]``: how many logs
    its baseline weeks had in the same stretch of the week (the median over weeks with
    data), and each week's count.

    Read from hour rows, an hour counted pro rata where the gap covers part of it.
    Candidates are grouped by the gap's length in powers of two hours, so a client with a
    short gap never makes the query read a week of another one's hours.
    """
    groups: dict[int, list[ClientEnvironment]] = {}
    for key, last in candidates.items():
        hours = max(1.0, (now - max(last, now - SILENCE_LOOKBACK)) / HOUR)
        groups.setdefault(math.ceil(math.log2(hours)), []).append(key)
    result: dict[ClientEnvironment, tuple[float, list[float]]] = {}
    for keys in groups.values():
        earliest = min(max(candidates[key], now - SILENCE_LOOKBACK) for key in keys)
        spans = [
            Span(earliest - week * WEEK, now - week * WEEK) for week in range(1, BASELINE_WEEKS + 1)
        ]
        hourly = hourly_runs_by_client_environment(sorted({c for c, _ in keys}), spans)
        for key in keys:
            gap_start = max(candidates[key], now - SILENCE_LOOKBACK)
            rows = hourly.get(key, {})
            counts = []
            for week in weeks.get(key, []):
                start, end = gap_start - week * WEEK, now - week * WEEK
                counts.append(sum(runs * _overlap(start, end, hour) for hour, runs in rows.items()))
            if counts:
                result[key] = (median(counts), counts)
    return result


def readings_read(now: dt.datetime, monitors: Sequence[MonitorRow]) -> Readings:
    """Everything the monitors need as of ``now``, in one read-only snapshot."""
    client_ids = sorted({monitor.client_id for monitor in monitors})
    total_spans, histogram_spans, verdict_spans = _spans(now, monitors)
    verdict_clients = sorted({m.client_id for m in monitors if m.metric == Metric.JUDGED_CORRECT})
    with read_snapshot():
        verdicts = verdict_totals_by_client_environment(verdict_clients, verdict_spans)
        totals, histograms = windows_by_client_environment(
            client_ids, total_spans, histogram_spans, MEASURES
        )
        weeks = {
            key: [w for w in range(1, BASELINE_WEEKS + 1) if spans[span_presence(w)]["runs"] > 0]
            for key, spans in totals.items()
        }
        silent_clients = sorted({m.client_id for m in monitors if m.metric == Metric.SILENCE})
        last_log = (
            last_log_by_client_environment(
                silent_clients, Span(now - (BASELINE_WEEKS + 1) * WEEK, now)
            )
            if silent_clients
            else {}
        )
        candidates = {
            key: last
            for key, last in last_log.items()
            if len(weeks.get(key, [])) >= MIN_BASELINE_WEEKS
        }
        bounded = _silence_bounds(now, candidates, weeks, totals, monitors)
        exact = {key: last for key, last in candidates.items() if key not in bounded}
        expected = _silence_expected(now, exact, weeks) if exact else {}
    return Readings(now, totals, histograms, weeks, last_log, expected | bounded, verdicts=verdicts)


def _silence_covers(monitors: Sequence[MonitorRow]) -> list[tuple[dt.timedelta, Callable]]:
    """(longest gap covered, week -> name of a span read for every baseline week that
    holds such a gap), shortest first: the baseline monitors' windows, the whole-hour
    stretches, and the baseline week itself, which holds any gap (at most a week)."""
    covers: list[tuple[dt.timedelta, Callable]] = [
        (dt.timedelta(minutes=minutes), partial(span_base, minutes))
        for minutes in {
            m.window_minutes
            for m in monitors
            # Windows read from the log rollups (the judged-correct ones are not).
            if m.kind == MonitorKind.BASELINE
            and m.metric not in (Metric.SILENCE, Metric.JUDGED_CORRECT)
        }
    ]
    covers += [(hours * HOUR, partial(span_bound, hours)) for hours in SILENCE_BOUND_HOURS]
    covers.sort(key=lambda cover: cover[0])
    return [*covers, (SILENCE_LOOKBACK, span_presence)]


def _silence_bounds(
    now: dt.datetime,
    candidates: dict[ClientEnvironment, dt.datetime],
    weeks: dict[ClientEnvironment, list[int]],
    totals: dict[ClientEnvironment, dict[str, Totals]],
    monitors: Sequence[MonitorRow],
) -> dict[ClientEnvironment, tuple[float, list[float]]]:
    """The candidates whose gap cannot be a silence, from what was read already: a gap
    shorter than a window read for every baseline week lies inside that window in each
    week (and any gap inside its baseline week), so the median of those counts bounds the
    expected count from above. Where the bound says no alert is possible, the hour rows
    need not be read; the bound stands in for the expected count (it only ever says "not
    silent"). Returns (bound, []) per such candidate."""
    covers = _silence_covers(monitors)
    most = -math.log(SILENCE_P_VALUE)  # P(none) = exp(-expected) >= 1e-6 up to here
    found: dict[ClientEnvironment, tuple[float, list[float]]] = {}
    for key, last in candidates.items():
        gap = now - max(last, now - SILENCE_LOOKBACK)
        name = next(name for longest, name in covers if gap <= longest)
        read = totals.get(key, {})
        counts = [read[name(week)]["runs"] for week in weeks.get(key, [])]
        if counts and median(counts) < most:
            found[key] = (median(counts), [])
    return found
