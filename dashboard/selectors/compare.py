"""Two sides of a client's workflow side by side: two versions, environments or periods.

Each metric of each side comes from the read model (``metric_value`` over ``totals`` and
``duration_histograms``), with its confidence interval, and the difference is tested
(``dashboard.monitors.statistics_compare``). The owner's comparison spans every client:
``compare_all_clients_unscoped``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collector.models import Client
from collector.readmodel import reads
from collector.readmodel.facts import CALIBRATION_BUCKETS, percentile_from_histogram
from dashboard.monitors import statistics_compare as st
from dashboard.monitors.metrics import metric_value
from dashboard.monitors.models import Metric
from flusso_site.errors import ApplicationError

DIMENSIONS = ("version", "environment", "period")

# The execution-time row that is tested: the whole distribution (Mann-Whitney U), shown
# with each side's median. Not a Metric: no monitor watches it.
EXECUTION_DISTRIBUTION = "execution_time_distribution"

# (metric, label, format kind as dashboard_format.kpi, statistics family, up is good).
# Families: "rate", "mean", "distribution" (Mann-Whitney on the duration histograms), and
# "descriptive" (p95 with its interval, no test: Mann-Whitney tests whether one side's
# runs tend to be slower, not p95, and the two can point opposite ways when the tails and
# the bulk move apart; a verdict on the p95 row would borrow a test it did not pass).
COMPARE_METRICS: tuple[tuple[str, str, str, str, bool], ...] = (
    (Metric.SUCCESS_RATE, "Success rate", "pct", "rate", True),
    (Metric.ESCALATION_RATE, "Escalation rate", "pct", "rate", False),
    (Metric.ERROR_RATE, "Error rate (failed + error)", "pct", "rate", False),
    (Metric.CONFIDENCE, "Average confidence", "ratio", "mean", True),
    (Metric.HALLUCINATION_RISK, "Average hallucination risk", "ratio", "mean", False),
    (
        EXECUTION_DISTRIBUTION,
        "Execution time (distribution, Mann-Whitney; median shown)",
        "approx_seconds",
        "distribution",
        False,
    ),
    (Metric.P95_EXECUTION, "p95 execution time", "approx_seconds", "descriptive", False),
)


class CompareError(ApplicationError):
    """A comparison that cannot be made as asked (an unknown version, say); ``field``
    names the parameter at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, code="invalid_comparison", fields={field: [message]})
        self.field = field


@dataclass(frozen=True)
class CompareQuery:
    """What to compare: for version and environment, ``a`` and ``b`` over ``window``;
    for period, ``span_a`` against ``span_b`` (``a``/``b`` are then their labels)."""

    dimension: str
    a: str
    b: str
    window: reads.Span
    span_a: reads.Span | None = None
    span_b: reads.Span | None = None


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    label: str
    kind: str
    up_is_good: bool
    a: st.Estimate
    b: st.Estimate
    test: st.Test
    family: str = ""

    @property
    def tested(self) -> bool:
        """False for a descriptive row (p95): values and intervals, no test, no verdict."""
        return self.family != "descriptive"

    @property
    def difference(self) -> float | None:
        if self.a.value is None or self.b.value is None:
            return None
        return self.b.value - self.a.value

    @property
    def better(self) -> str:
        """ "b" or "a" when the test is significant, "" otherwise. The direction is the
        test's own effect (``test.difference``: b - a for rates and means, P(B slower) - ½
        for the distribution), never another statistic's."""
        effect = self.test.difference
        if not self.tested or not self.test.significant or not effect:
            return ""
        return "b" if (effect > 0) == self.up_is_good else "a"


@dataclass(frozen=True)
class Comparison:
    dimension: str
    a: str
    b: str
    runs_a: int
    runs_b: int
    metrics: list[MetricComparison]

    @property
    def too_small(self) -> bool:
        return min(self.runs_a, self.runs_b) < st.MIN_SAMPLES

    @property
    def tests(self) -> int:
        """How many rows are tested (each at ALPHA)."""
        return sum(m.tested for m in self.metrics)

    @property
    def chance_of_a_false_significant(self) -> float:
        """With no real difference anywhere, the chance that at least one of the tests
        says "significant": 1 - (1 - ALPHA)^tests (as if independent; 26 % for six). No
        correction is applied: each row's p-value stays that row's own, and the page says
        this number beside them."""
        return 1 - (1 - st.ALPHA) ** self.tests


def _version_key(version: str) -> list[tuple[int, int | str]]:
    """Natural order: v1.9 before v1.10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", version)]


def version_previous(versions: list[str], version: str) -> str | None:
    """The version before ``version`` in natural order among ``versions`` (None: first)."""
    ordered = sorted(set(versions) | {version}, key=_version_key)
    index = ordered.index(version)
    return ordered[index - 1] if index > 0 else None


@dataclass(frozen=True)
class CompareOptions:
    versions: list[str]
    environments: list[str]


def _options(scope: reads.Scope, window: reads.Span) -> CompareOptions:
    pairs = reads.dimensions(scope, window)
    return CompareOptions(
        versions=sorted({v for _, v in pairs if v}, key=_version_key),
        environments=sorted({e for e, _ in pairs if e}),
    )


def compare_options(*, client: Client, window: reads.Span) -> CompareOptions:
    """The client's versions and environments with runs in the window."""
    return _options(reads.Scope(client_id=client.pk), window)


def compare_options_all_clients_unscoped(*, window: reads.Span) -> CompareOptions:
    return _options(_everyone(), window)


def _everyone() -> reads.Scope:
    ids = tuple(Client.objects.order_by().values_list("pk", flat=True))
    return reads.Scope(client_id=None, client_ids=ids)


def _side(scope: reads.Scope, span: reads.Span) -> tuple[reads.Totals, dict[int, int]]:
    (totals,) = reads.totals(scope, [span])
    (durations,) = reads.duration_histograms(scope, [span])
    return totals, durations


def _confidence_buckets(totals: reads.Totals) -> list[tuple[float, float, int]]:
    return [
        (i / CALIBRATION_BUCKETS, (i + 1) / CALIBRATION_BUCKETS, int(totals[f"cal_n{i}"]))
        for i in range(CALIBRATION_BUCKETS)
    ]


def _variance(metric: str, totals: reads.Totals, mean: float | None) -> float:
    if mean is None:
        return 0.0
    if metric == Metric.CONFIDENCE:
        return st.variance_bound_buckets(mean, _confidence_buckets(totals))
    return st.variance_bound_unit(mean)


def _metric(
    spec: tuple[str, str, str, str, bool],
    a: tuple[reads.Totals, dict[int, int]],
    b: tuple[reads.Totals, dict[int, int]],
) -> MetricComparison:
    metric, label, kind, family, up_is_good = spec
    if family == "distribution":
        # Each side's median (and its interval) beside the test of the whole distribution.
        ea = st.quantile_interval(a[1], 0.5, percentile_from_histogram(a[1], 0.5))
        eb = st.quantile_interval(b[1], 0.5, percentile_from_histogram(b[1], 0.5))
        test = st.mann_whitney(a[1], b[1])
        return MetricComparison(metric, label, kind, up_is_good, ea, eb, test, family)
    va, vb = metric_value(metric, *a), metric_value(metric, *b)
    if family == "rate":
        ea = st.wilson_interval(va.numerator or 0, va.samples)
        eb = st.wilson_interval(vb.numerator or 0, vb.samples)
        test = st.two_proportion_test(va.numerator or 0, va.samples, vb.numerator or 0, vb.samples)
    elif family == "mean":
        var_a, var_b = _variance(metric, a[0], va.value), _variance(metric, b[0], vb.value)
        ea = st.mean_interval(va.value, var_a, va.samples)
        eb = st.mean_interval(vb.value, var_b, vb.samples)
        test = st.welch_test(va.value, var_a, va.samples, vb.value, var_b, vb.samples)
    else:  # descriptive: p95 and its interval, no test
        ea = st.quantile_interval(a[1], 0.95, va.value)
        eb = st.quantile_interval(b[1], 0.95, vb.value)
        test = st.Test(_minus(va.value, vb.value), None, "none (descriptive)", too_small=False)
    return MetricComparison(metric, label, kind, up_is_good, ea, eb, test, family)


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _compare(base: reads.Scope, query: CompareQuery, options: CompareOptions) -> Comparison:
    if query.a == query.b:
        raise CompareError("Choose two different sides to compare.", field="b")
    if query.dimension == "period":
        assert query.span_a is not None and query.span_b is not None
        scope_a = scope_b = base
        span_a, span_b = query.span_a, query.span_b
    else:
        known = options.versions if query.dimension == "version" else options.environments
        for field, value in (("a", query.a), ("b", query.b)):
            if value not in known:
                raise CompareError(
                    f"No runs of {query.dimension} {value!r} in this period.", field=field
                )
        scope_a = _with(base, query.dimension, query.a)
        scope_b = _with(base, query.dimension, query.b)
        span_a = span_b = query.window
    with reads.read_snapshot():
        a, b = _side(scope_a, span_a), _side(scope_b, span_b)
    return Comparison(
        dimension=query.dimension,
        a=query.a,
        b=query.b,
        runs_a=int(a[0]["runs"]),
        runs_b=int(b[0]["runs"]),
        metrics=[_metric(spec, a, b) for spec in COMPARE_METRICS],
    )


def _with(scope: reads.Scope, dimension: str, value: str) -> reads.Scope:
    if dimension == "version":
        return reads.Scope(scope.client_id, version=value, client_ids=scope.client_ids)
    return reads.Scope(scope.client_id, environment=value, client_ids=scope.client_ids)


def compare_client(*, client: Client, query: CompareQuery) -> Comparison:
    """Compare two sides of the client's runs; CompareError when a side does not exist."""
    options = compare_options(client=client, window=query.window)
    return _compare(reads.Scope(client_id=client.pk), query, options)


def compare_all_clients_unscoped(*, query: CompareQuery) -> Comparison:
    """The same over every client's runs together (the owner's; a version spans clients)."""
    options = compare_options_all_clients_unscoped(window=query.window)
    return _compare(_everyone(), query, options)
