"""Evaluating every monitor as of a moment: open, update and resolve alerts.

``monitors_evaluate(now=...)`` reads the read model only (collector.readmodel.reads), in a
fixed number of queries for all clients together, judges each monitor in each of its
client's environments, and changes alerts only through services.alerts. Evaluating the
same moment twice changes nothing. The rules and their numbers are in docs/monitors.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from collector.readmodel.reads import ClientEnvironment, Span
from dashboard.monitors.metrics import HIGHER_IS_WORSE, RATE_METRICS, MetricValue
from dashboard.monitors.models import (
    Alert,
    AlertState,
    Comparison,
    Metric,
    MonitorKind,
    monitor_problem,
)
from dashboard.monitors.services.alerts import alert_open, alert_resolve
from dashboard.monitors.services.readings import (
    BASELINE_WEEKS,
    MIN_BASELINE_WEEKS,
    SILENCE_MIN_MINUTES,
    SILENCE_P_VALUE,
    WEEK,
    MonitorRow,
    Readings,
    readings_read,
    span_base,
    span_recent,
)
from dashboard.monitors.statistics import (
    Band,
    binomial_standard_error,
    median,
    poisson_lower_p,
    rate_worse_p,
    robust_band,
    silence_p,
)

logger = logging.getLogger(__name__)

# A rate alerts only when the window is also significantly worse than the pooled
# baseline weeks (one-sided Fisher exact test, statistics.rate_worse_p). The same monitor
# is re-tested every minute on a window that overlaps the last one almost entirely, so a
# week holds hundreds of effectively independent tests per monitor: at 0.01 a steady
# client opened several alerts a week per monitor; at 1e-5, simulated over weeks of
# stationary random traffic (30 to 1,000 runs an hour, 0.1 % to 10 % bad), about one
# alert per monitor in 20 to 50 weeks (docs/monitors.md).
RATE_P_VALUE = 1e-5
# A volume drop must be this improbable under Poisson(baseline median)...
VOLUME_P_VALUE = 0.001
# ...and the baseline must expect at least this many runs in the window to say so (below
# it, an empty hour is ordinary; the silence monitor covers a client that stopped).
VOLUME_MIN_EXPECTED = 10.0
# Hysteresis: an alert opened at ``sensitivity`` spreads resolves only once the value is
# back within half that (so a value hovering at the edge does not open and close).
RESOLVE_FRACTION = 0.5
# A threshold alert resolves once the value is back past the threshold by 5 % of it...
THRESHOLD_HYSTERESIS = 0.05
# ...or, for a rate (0 to 1), by half a percentage point, the target clipped to [0, 1]: a
# "success rate below 0.97" alert resolves at 0.975 (5 % of 0.97 would ask for 1.0185,
# which no rate reaches), "below 0.999" at 1.0, "escalation above 0" at 0.
RATE_HYSTERESIS = 0.005
# The floor of a mean's spread: max(relative x |median|, absolute). The rollups keep sums
# and counts, not squares, so a mean has no standard error to floor it with; these are
# the smallest moves worth telling anyone about (0.02 of confidence or risk on their 0-1
# scales; half a second, or 10 %, of p95 execution time, which the duration histogram
# already reads within 2 %).
MEAN_FLOORS: dict[str, tuple[float, float]] = {
    Metric.CONFIDENCE: (0.05, 0.02),
    Metric.HALLUCINATION_RISK: (0.05, 0.02),
    Metric.P95_EXECUTION: (0.10, 0.5),
}


@dataclass
class EvaluationSummary:
    """What one evaluation did: alerts opened and resolved, how many are open after it,
    monitor-environment pairs judged, and why the others said nothing."""

    opened: int = 0
    resolved: int = 0
    still_open: int = 0
    evaluated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(self.skipped.items()))
        return (
            f"{self.evaluated} checks: {self.opened} opened, {self.resolved} resolved, "
            f"{self.still_open} open" + (f"; skipped: {skipped}" if skipped else "")
        )


@dataclass
class Verdict:
    """One monitor in one environment: open-worthy (``breach``), back to normal
    (``recovered``), or unable to say (``skipped`` names why)."""

    breach: bool = False
    recovered: bool = False
    skipped: str = ""
    value: float | None = None
    seen: dict[str, Any] = field(default_factory=dict)


# Judging ----------------------------------------------------------------------------------


def _band_fields(band: Band, metric: str) -> dict[str, float]:
    """The band as the page shows it: a rate within [0, 1], nothing below 0."""
    top = 1.0 if metric in RATE_METRICS else math.inf
    return {
        "baseline_median": band.median,
        "baseline_low": min(max(band.low, 0.0), top),
        "baseline_high": min(max(band.high, 0.0), top),
    }


def _bad_of(found: MetricValue, higher_is_worse: bool) -> tuple[int, int]:
    """(bad runs, runs) of a rate: its numerator when higher is worse (errors,
    escalations), the rest when lower is (failures of the success rate)."""
    part = found.numerator or 0
    return (part if higher_is_worse else found.samples - part), found.samples


def _bad_of_weeks(base: dict[int, MetricValue], higher_is_worse: bool) -> tuple[int, int]:
    """The baseline weeks pooled: (bad runs, runs)."""
    pairs = [_bad_of(found, higher_is_worse) for found in base.values()]
    return sum(bad for bad, _ in pairs), sum(runs for _, runs in pairs)


def _judge_drift(
    monitor: MonitorRow, readings: Readings, key: ClientEnvironment, window: Span
) -> Verdict:
    """A rate, mean or p95 against the same window in the baseline weeks."""
    metric, minutes = monitor.metric, monitor.window_minutes
    recent = readings.value(metric, [key], span_recent(minutes))
    if recent.value is None or recent.samples < monitor.min_samples:
        return Verdict(skipped="few samples")
    weeks = readings.weeks.get(key, [])
    base = {week: readings.value(metric, [key], span_base(minutes, week)) for week in weeks}
    values = [found.value for found in base.values() if found.value is not None]
    if len(values) < MIN_BASELINE_WEEKS:
        return Verdict(skipped="no baseline yet", value=recent.value)
    centre = median(values)
    if metric in RATE_METRICS:
        floor = binomial_standard_error(centre, recent.samples)
    else:
        relative, absolute = MEAN_FLOORS[metric]
        floor = max(relative * abs(centre), absolute)
    band = robust_band(values, sensitivity=monitor.sensitivity, floor=floor)
    higher_is_worse = HIGHER_IS_WORSE[metric]
    outside = band.beyond(recent.value, higher_is_worse=higher_is_worse)
    p_value = None
    if metric in RATE_METRICS and outside:  # the test only matters (and costs) out there
        p_value = rate_worse_p(
            *_bad_of(recent, higher_is_worse), *_bad_of_weeks(base, higher_is_worse)
        )
    breach = outside and (p_value is None or p_value < RATE_P_VALUE)
    inner = band.narrowed(RESOLVE_FRACTION)
    return Verdict(
        breach=breach,
        recovered=not inner.beyond(recent.value, higher_is_worse=higher_is_worse),
        value=recent.value,
        seen={
            "window_start": window.start,
            "window_end": window.end,
            "value": recent.value,
            "last_value": recent.value,
            "sample_size": recent.samples,
            "p_value": p_value,
            **_band_fields(band, metric),
            "detail": {
                "baseline_weeks": sorted(base),
                "baseline_values": values,
                "spread": band.spread,
                "spread_floor": floor,
                "sensitivity": monitor.sensitivity,
            },
        },
    )


def _judge_volume(
    monitor: MonitorRow, readings: Readings, key: ClientEnvironment, window: Span
) -> Verdict:
    """Runs in the window far below the baseline weeks' median (a Poisson test)."""
    minutes = monitor.window_minutes
    recent = int(readings.value(Metric.VOLUME, [key], span_recent(minutes)).samples)
    weeks = readings.weeks.get(key, [])
    if len(weeks) < MIN_BASELINE_WEEKS:
        return Verdict(skipped="no baseline yet", value=recent)
    counts = [
        float(readings.value(Metric.VOLUME, [key], span_base(minutes, week)).samples)
        for week in weeks
    ]
    centre = median(counts)
    if centre < VOLUME_MIN_EXPECTED:
        return Verdict(skipped="baseline too small", value=recent)
    band = robust_band(counts, sensitivity=monitor.sensitivity, floor=math.sqrt(centre))
    p_value = poisson_lower_p(recent, centre)
    return Verdict(
        breach=recent < band.low and p_value < VOLUME_P_VALUE,
        recovered=recent >= band.narrowed(RESOLVE_FRACTION).low,
        value=recent,
        seen={
            "window_start": window.start,
            "window_end": window.end,
            "value": float(recent),
            "last_value": float(recent),
            "sample_size": recent,
            "p_value": p_value,
            **_band_fields(band, Metric.VOLUME),
            "detail": {
                "baseline_weeks": weeks,
                "baseline_values": counts,
                "spread": band.spread,
                "sensitivity": monitor.sensitivity,
            },
        },
    )


def _judge_silence(monitor: MonitorRow, readings: Readings, key: ClientEnvironment) -> Verdict:
    """No log since the last one for at least SILENCE_MIN_MINUTES, in a time in which this
    client normally sends so many that none at all is improbable (exp(-expected) <
    SILENCE_P_VALUE, i.e. more than 13.8 logs expected)."""
    now = readings.now
    last = readings.last_log.get(key)
    if last is None:
        return Verdict(skipped="no data")
    if len(readings.weeks.get(key, [])) < MIN_BASELINE_WEEKS or key not in (
        readings.silence_expected
    ):
        return Verdict(skipped="no baseline yet")
    expected, counts = readings.silence_expected[key]
    p_value = silence_p(expected)
    minutes = (now - last).total_seconds() / 60
    silent = p_value < SILENCE_P_VALUE and minutes >= SILENCE_MIN_MINUTES
    return Verdict(
        breach=silent,
        recovered=not silent,
        value=minutes,
        seen={
            "window_start": last,
            "window_end": now,
            "value": minutes,
            "last_value": minutes,
            "sample_size": 0,
            "p_value": p_value,
            "baseline_median": expected,
            "detail": {
                "last_log_at": last.isoformat(),
                "expected_logs": expected,
                "baseline_counts": counts,
                "baseline_weeks": readings.weeks.get(key, []),
            },
        },
    )


def _judge_threshold(
    monitor: MonitorRow, readings: Readings, keys: Sequence[ClientEnvironment], window: Span
) -> Verdict:
    """The metric over the window against the owner's threshold."""
    threshold = monitor.threshold
    if threshold is None or monitor.comparison not in Comparison.values:
        return Verdict(skipped="misconfigured")
    if monitor.metric == Metric.SILENCE:
        lasts = [readings.last_log[key] for key in keys if key in readings.last_log]
        last = max(lasts) if lasts else None
        since = last or readings.now - (BASELINE_WEEKS + 1) * WEEK
        value: float | None = (readings.now - since).total_seconds() / 60
        samples = 0
        window = Span(since, readings.now)
    else:
        found = readings.value(monitor.metric, keys, span_recent(monitor.window_minutes))
        value, samples = found.value, found.samples
        if monitor.metric != Metric.VOLUME and samples < monitor.min_samples:
            return Verdict(skipped="few samples")
    if value is None:
        return Verdict(skipped="no data")
    rate = monitor.metric in RATE_METRICS
    margin = RATE_HYSTERESIS if rate else THRESHOLD_HYSTERESIS * abs(threshold)
    if monitor.comparison == Comparison.BELOW:
        target = min(threshold + margin, 1.0) if rate else threshold + margin
        breach, recovered = value < threshold, value >= target
    else:
        target = max(threshold - margin, 0.0) if rate else threshold - margin
        breach, recovered = value > threshold, value <= target
    return Verdict(
        breach=breach,
        recovered=recovered,
        value=value,
        seen={
            "window_start": window.start,
            "window_end": window.end,
            "value": value,
            "last_value": value,
            "sample_size": samples,
            "detail": {"threshold": threshold, "comparison": monitor.comparison},
        },
    )


def _targets(monitor: MonitorRow, readings: Readings, open_envs: Iterable[str]) -> list[str]:
    """The environments a monitor is judged in: its own, or each of the client's (a
    baseline monitor), or all together as "" (a threshold monitor)."""
    if monitor.environment:
        return [monitor.environment]
    if monitor.kind == MonitorKind.THRESHOLD:
        return [""]
    return sorted(set(readings.environments(monitor.client_id)) | set(open_envs))


def _judge(monitor: MonitorRow, readings: Readings, environment: str) -> Verdict:
    now = readings.now
    window = Span(now - dt.timedelta(minutes=monitor.window_minutes), now)
    if monitor.kind == MonitorKind.THRESHOLD:
        if environment:
            keys = [(monitor.client_id, environment)]
        else:
            keys = [(monitor.client_id, env) for env in readings.environments(monitor.client_id)]
        return _judge_threshold(monitor, readings, keys, window)
    key = (monitor.client_id, environment)
    if monitor.metric == Metric.SILENCE:
        return _judge_silence(monitor, readings, key)
    if monitor.metric == Metric.VOLUME:
        return _judge_volume(monitor, readings, key, window)
    return _judge_drift(monitor, readings, key, window)


# The evaluation ---------------------------------------------------------------------------


def _cooling(
    now: dt.datetime, monitors: Sequence[MonitorRow]
) -> dict[tuple[int, str], dt.datetime]:
    """(monitor, environment) -> when its latest alert resolved, for those resolved within
    the longest cool-down (or later than ``now``, when replaying an earlier moment)."""
    longest = max((monitor.cooldown_minutes for monitor in monitors), default=0)
    rows = Alert.objects.filter(
        state=AlertState.RESOLVED,
        resolved_at__gte=now - dt.timedelta(minutes=longest),
        monitor__enabled=True,
    ).values_list("monitor_id", "environment", "resolved_at")
    latest: dict[tuple[int, str], dt.datetime] = {}
    for monitor_id, environment, resolved_at in rows:
        key = (monitor_id, environment)
        if key not in latest or resolved_at > latest[key]:
            latest[key] = resolved_at
    return latest


def monitors_evaluate(*, now: dt.datetime) -> EvaluationSummary:
    """Judge every enabled monitor of every active client as of ``now`` (seeing only logs
    before it): open alerts for breaches, resolve open ones whose metric is back within
    the narrower band, and record the latest value on those still open."""
    summary = EvaluationSummary()
    monitors = _judgeable(MonitorRow.enabled(), summary)
    if not monitors:
        return summary
    readings = readings_read(now, monitors)
    open_alerts: dict[tuple[int, str], Alert] = {
        (alert.monitor_id, alert.environment): alert
        for alert in Alert.objects.exclude(state=AlertState.RESOLVED).filter(
            monitor__enabled=True, client__is_active=True
        )
    }
    envs_open: dict[int, list[str]] = {}
    for monitor_id, environment in open_alerts:
        envs_open.setdefault(monitor_id, []).append(environment)
    cooling = _cooling(now, monitors)
    updated: list[Alert] = []
    for monitor in monitors:
        for environment in _targets(monitor, readings, envs_open.get(monitor.pk, [])):
            summary.evaluated += 1
            try:
                _check(monitor, environment, readings, open_alerts, cooling, summary, updated)
            except Exception:  # one monitor's failure must not stop every other client's
                logger.exception(
                    "monitors: judging monitor %s (client %s, environment %r) failed; "
                    "the others go on",
                    monitor.pk,
                    monitor.client_id,
                    environment,
                )
                summary.skipped["failed"] += 1
    if updated:
        Alert.objects.bulk_update(updated, ["last_value", "last_evaluated_at"], batch_size=500)
    return summary


def _judgeable(monitors: list[MonitorRow], summary: EvaluationSummary) -> list[MonitorRow]:
    """The monitors whose settings the engine can judge; the others (out of the model's
    bounds by an update() or a raw write) are logged and counted, and never read for:
    one monitor with a cool-down of 2**31 minutes once overflowed every client's run."""
    sound = []
    for monitor in monitors:
        problem = monitor_problem(
            window_minutes=monitor.window_minutes,
            cooldown_minutes=monitor.cooldown_minutes,
            sensitivity=monitor.sensitivity,
            min_samples=monitor.min_samples,
            threshold=monitor.threshold,
        )
        if problem:
            logger.error(
                "monitors: monitor %s (client %s) is not judged: %s",
                monitor.pk,
                monitor.client_id,
                problem,
            )
            summary.skipped["misconfigured"] += 1
        else:
            sound.append(monitor)
    return sound


def _check(
    monitor: MonitorRow,
    environment: str,
    readings: Readings,
    open_alerts: dict[tuple[int, str], Alert],
    cooling: dict[tuple[int, str], dt.datetime],
    summary: EvaluationSummary,
    updated: list[Alert],
) -> None:
    """Judge one monitor in one environment and open, resolve or update its alert."""
    now = readings.now
    verdict = _judge(monitor, readings, environment)
    if verdict.skipped:
        summary.skipped[verdict.skipped] += 1
    alert = open_alerts.get((monitor.pk, environment))
    if alert is not None:
        if alert.opened_at > now:
            return  # replaying a moment before this alert existed
        if _recovered(monitor, alert, verdict, readings):
            if verdict.value is not None:
                # What it came back to: the resolution's mail and webhook say so.
                Alert.objects.filter(pk=alert.pk).update(
                    last_value=verdict.value, last_evaluated_at=now
                )
            alert_resolve(alert=alert, now=now)
            summary.resolved += 1
            return
        if verdict.value is not None:
            alert.last_value = verdict.value
        alert.last_evaluated_at = now
        updated.append(alert)
        summary.still_open += 1
    elif verdict.breach:
        resolved_at = cooling.get((monitor.pk, environment))
        if resolved_at is not None and now < resolved_at + dt.timedelta(
            minutes=monitor.cooldown_minutes
        ):
            summary.skipped["cooling down"] += 1
            return
        opened = alert_open(
            monitor=monitor.model(), environment=environment, at=now, **verdict.seen
        )
        if opened is not None:
            summary.opened += 1
            summary.still_open += 1


def _recovered(monitor: MonitorRow, alert: Alert, verdict: Verdict, readings: Readings) -> bool:
    if verdict.skipped:
        return False
    if monitor.metric == Metric.SILENCE and monitor.kind == MonitorKind.BASELINE:
        # Back when a log newer than the one the alert named has come in.
        last = readings.last_log.get((monitor.client_id, alert.environment))
        named = alert.detail.get("last_log_at")
        return last is not None and named is not None and last > dt.datetime.fromisoformat(named)
    return verdict.recovered
