"""What each monitored metric is, computed from read-model sums (never raw logs).

One definition shared by the evaluation, the alerts page's charts and the weekly reports,
so an alert, its chart and the report can never disagree on what "error rate" means.
A rate carries its numerator and denominator (the significance tests need both); a mean
its count; p95 is read from the duration histogram (within DURATION_RELATIVE_ERROR).
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.readmodel.facts import percentile_from_histogram
from collector.readmodel.reads import Totals
from dashboard.monitors.models import Metric
from dashboard.reviews.readmodel import VerdictCounts

RATE_METRICS = {
    Metric.SUCCESS_RATE: ("n_success",),
    Metric.ESCALATION_RATE: ("n_escalated",),
    Metric.ERROR_RATE: ("n_failed", "n_error"),
    # A rate of reviewed runs, read from the verdict counts (dashboard.reviews.readmodel),
    # not from a column of the log rollups: see ``metric_value``'s ``verdicts``.
    Metric.JUDGED_CORRECT: (),
}
MEAN_METRICS = {
    Metric.CONFIDENCE: "conf",
    Metric.HALLUCINATION_RISK: "risk",
}
# Whether a higher value is worse (a baseline monitor alerts on the bad side only).
HIGHER_IS_WORSE = {
    Metric.SUCCESS_RATE: False,
    Metric.ESCALATION_RATE: True,
    Metric.ERROR_RATE: True,
    Metric.CONFIDENCE: False,
    Metric.HALLUCINATION_RISK: True,
    Metric.P95_EXECUTION: True,
    Metric.VOLUME: False,
    Metric.JUDGED_CORRECT: False,
}


@dataclass(frozen=True)
class MetricValue:
    """A metric over one window: its value (None without data), and what it rests on.

    ``numerator``/``samples`` for rates (successes of runs), ``samples`` alone for means
    (runs with the metric) and p95 (runs with a duration); for volume, ``value`` is runs.
    """

    value: float | None
    samples: int
    numerator: int | None = None


def metric_value(
    metric: str,
    totals: Totals,
    durations: dict[int, int] | None = None,
    verdicts: VerdictCounts | None = None,
) -> MetricValue:
    """``metric`` over a window whose summed measures are ``totals`` (and, for p95, whose
    duration histogram is ``durations``; for the judged-correct share, whose verdict
    counts are ``verdicts``: its samples are the reviewed runs)."""
    if metric == Metric.JUDGED_CORRECT:
        reviewed = verdicts.reviewed if verdicts is not None else 0
        correct = verdicts.judged_correct if verdicts is not None else 0
        return MetricValue(correct / reviewed if reviewed else None, reviewed, correct)
    runs = int(totals["runs"])
    if metric in RATE_METRICS:
        part = int(sum(totals[column] for column in RATE_METRICS[metric]))
        return MetricValue(part / runs if runs else None, runs, part)
    if metric in MEAN_METRICS:
        prefix = MEAN_METRICS[metric]
        count = int(totals[f"{prefix}_n"])
        return MetricValue(totals[f"{prefix}_sum"] / count if count else None, count)
    if metric == Metric.P95_EXECUTION:
        histogram = durations or {}
        return MetricValue(percentile_from_histogram(histogram, 0.95), sum(histogram.values()))
    if metric in (Metric.VOLUME, Metric.SILENCE):
        return MetricValue(float(runs), runs)
    raise ValueError(f"unknown metric {metric!r}")
