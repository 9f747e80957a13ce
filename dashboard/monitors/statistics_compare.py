"""The comparison page's statistics, from what the read model keeps (pure Python + scipy).

The rollups hold counts and sums, never the single runs, so every figure here is computed
from them:

- rates (success, escalation, error): a count of ``successes`` out of ``n`` runs. Interval:
  Wilson score; test: the pooled two-proportion z-test, or Fisher's exact test when an
  expected count is below ``MIN_EXPECTED`` (rare events).
- means (confidence, hallucination risk): a count and a sum, plus, for confidence, the
  calibration buckets (runs per tenth of confidence). The variance is not stored, so we
  use an upper bound of it (``variance_bound_*``); with it the interval is wider and the
  Welch t-test more cautious than with the true variance: never falsely significant
  because of the approximation.
- execution time: the duration histogram (log-spaced buckets, each read as one value
  within 2 %). p95's interval is the distribution-free order-statistic interval; the test
  is Mann-Whitney U with the tie correction, each bucket being one group of ties.

Every test is two-sided at ``ALPHA``; below ``MIN_SAMPLES`` on either side a result says
the samples are too small, whatever its p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from collector.readmodel.facts import duration_value

# The significance level of every test, and the confidence of every interval (1 - ALPHA).
ALPHA = 0.05
# Fewest runs per side before a comparison is called conclusive: below it the normal
# approximations behind the z-, t- and U-tests are poor, and a p95 interval is mostly
# open (30 is the usual rule of thumb for the central limit theorem to be fair).
MIN_SAMPLES = 30
# A rate's z-test needs every expected count of the 2x2 table under the pooled rate
# (n_a·p, n_a·(1-p), n_b·p, n_b·(1-p)) to be at least this (the usual rule for the normal
# approximation of a binomial); below it, Fisher's exact test is used instead, which needs
# no approximation. Rare events (0 against 20 errors in 1000 runs) are so still tested.
MIN_EXPECTED = 5
Z = stats.norm.ppf(1 - ALPHA / 2)


@dataclass(frozen=True)
class Estimate:
    """A value with its (1 - ALPHA) interval; None where there is no data."""

    value: float | None
    low: float | None
    high: float | None
    samples: int


@dataclass(frozen=True)
class Test:
    """The difference b - a, the p-value of a two-sided test, and its verdict."""

    difference: float | None
    p_value: float | None
    name: str
    too_small: bool

    @property
    def significant(self) -> bool:
        return (not self.too_small) and self.p_value is not None and self.p_value < ALPHA


# Rates ----------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int) -> Estimate:
    """The Wilson score interval: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    if n <= 0:
        return Estimate(None, None, None, 0)
    p = successes / n
    z2 = Z * Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def two_proportion_test(x_a: int, n_a: int, x_b: int, n_b: int) -> Test:
    """Pooled two-proportion z-test, z = (p_b - p_a) / sqrt(p(1-p)(1/n_a + 1/n_b)) with p
    the pooled rate, when every expected count under p is at least MIN_EXPECTED; Fisher's
    exact test (two-sided) on the table [[x_a, n_a - x_a], [x_b, n_b - x_b]] otherwise.
    Too small only below MIN_SAMPLES runs on a side."""
    if n_a <= 0 or n_b <= 0:
        return Test(None, None, "two-proportion z-test", True)
    too_small = min(n_a, n_b) < MIN_SAMPLES
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    if min(n_a, n_b) * min(pooled, 1 - pooled) < MIN_EXPECTED:
        # Also both sides all successes or all failures (expected 0): p = 1.
        _, p = stats.fisher_exact([[x_a, n_a - x_a], [x_b, n_b - x_b]])
        return Test(p_b - p_a, float(min(1.0, p)), "Fisher's exact test", too_small)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (p_b - p_a) / se
    return Test(p_b - p_a, float(2 * stats.norm.sf(abs(z))), "two-proportion z-test", too_small)


# Means ----------------------------------------------------------------------------------


def variance_bound_unit(mean: float) -> float:
    """Bhatia-Davis: a variable in [0, 1] with mean m has variance at most m(1 - m)."""
    return max(0.0, mean * (1 - mean))


def variance_bound_buckets(mean: float, buckets: list[tuple[float, float, int]]) -> float:
    """An upper bound of the variance of values known only by bucket, their mean exact.

    Var = E[(X - m)²], and a value in [low, high) is at most max((low - m)², (high - m)²)
    from the mean; so Var <= Σ nᵢ·max((lowᵢ - m)², (highᵢ - m)²) / n. Capped by the
    Bhatia-Davis bound m(1 - m) (values in [0, 1]), whichever is tighter.
    """
    n = sum(count for _, _, count in buckets)
    if n <= 0:
        return variance_bound_unit(mean)
    bound = sum(count * max((low - mean) ** 2, (high - mean) ** 2) for low, high, count in buckets)
    return min(bound / n, variance_bound_unit(mean))


def mean_interval(mean: float | None, variance: float, n: int) -> Estimate:
    """mean ± t(1 - ALPHA/2, n - 1) · sqrt(variance / n), clipped to [0, 1]."""
    if mean is None or n <= 0:
        return Estimate(None, None, None, 0)
    if n == 1:
        return Estimate(mean, None, None, 1)
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * math.sqrt(variance / n)
    return Estimate(mean, max(0.0, mean - half), min(1.0, mean + half), n)


def welch_test(
    mean_a: float | None, var_a: float, n_a: int, mean_b: float | None, var_b: float, n_b: int
) -> Test:
    """t = (m_b - m_a) / sqrt(v_a/n_a + v_b/n_b), Welch-Satterthwaite degrees of freedom."""
    name = "Welch t-test (variance bounded from the rollups)"
    too_small = min(n_a, n_b) < MIN_SAMPLES
    if mean_a is None or mean_b is None or n_a < 2 or n_b < 2:
        return Test(None, None, name, True)
    va, vb = var_a / n_a, var_b / n_b
    se = math.sqrt(va + vb)
    if se == 0:
        return Test(mean_b - mean_a, 1.0 if mean_a == mean_b else 0.0, name, too_small)
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    t = (mean_b - mean_a) / se
    return Test(mean_b - mean_a, float(2 * stats.t.sf(abs(t), df)), name, too_small)


# Execution time -------------------------------------------------------------------------


def _value_at_rank(histogram: dict[int, int], rank: int) -> float:
    """The rank-th smallest value (1-based) a duration histogram holds."""
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if rank <= seen:
            return duration_value(bucket)
    raise ValueError("rank beyond the histogram")


def quantile_interval(histogram: dict[int, int], quantile: float, point: float | None) -> Estimate:
    """The distribution-free interval [X₍ₗ₎, X₍ᵤ₎] for a quantile q of n values.

    The number of values below the true quantile is Binomial(n, q); with l the largest
    rank such that P(B < l) <= ALPHA/2 and u the smallest such that P(B >= u) <= ALPHA/2,
    [X₍ₗ₎, X₍ᵤ₎] covers it with probability >= 1 - ALPHA. A side whose rank falls outside
    1..n stays open (None): too few runs to bound it.
    """
    n = sum(count for count in histogram.values() if count > 0)
    if n <= 0:
        return Estimate(None, None, None, 0)
    histogram = {bucket: count for bucket, count in histogram.items() if count > 0}
    low_rank = int(stats.binom.ppf(ALPHA / 2, n, quantile))
    high_rank = int(stats.binom.ppf(1 - ALPHA / 2, n, quantile)) + 1
    low = _value_at_rank(histogram, low_rank) if 1 <= low_rank <= n else None
    high = _value_at_rank(histogram, high_rank) if 1 <= high_rank <= n else None
    return Estimate(point, low, high, n)


def mann_whitney(histogram_a: dict[int, int], histogram_b: dict[int, int]) -> Test:
    """Mann-Whitney U over bucketed values, each bucket a group of ties.

    U_b = R_b - n_b(n_b + 1)/2 with R_b the sum of B's mid-ranks; under H0, E[U] = n_a·n_b/2
    and Var[U] = n_a·n_b/12 · ((N + 1) - Σ(t³ - t) / (N(N - 1))), t the size of each tie
    group. z with a continuity correction of 1/2. ``difference`` is the common-language
    effect size minus 1/2: P(B > A) + P(tie)/2 - 1/2 (positive: B tends to be slower).
    """
    name = "Mann-Whitney U (tie-corrected, on the duration histogram)"
    n_a = sum(c for c in histogram_a.values() if c > 0)
    n_b = sum(c for c in histogram_b.values() if c > 0)
    too_small = min(n_a, n_b) < MIN_SAMPLES
    if n_a == 0 or n_b == 0:
        return Test(None, None, name, True)
    total = n_a + n_b
    rank_sum_b = 0.0
    ties = 0.0
    below = 0
    for bucket in sorted(set(histogram_a) | set(histogram_b)):
        a, b = max(histogram_a.get(bucket, 0), 0), max(histogram_b.get(bucket, 0), 0)
        t = a + b
        if t == 0:
            continue
        mid_rank = below + (t + 1) / 2
        rank_sum_b += b * mid_rank
        ties += t**3 - t
        below += t
    u_b = rank_sum_b - n_b * (n_b + 1) / 2
    effect = u_b / (n_a * n_b) - 0.5
    mean = n_a * n_b / 2
    variance = n_a * n_b / 12 * ((total + 1) - ties / (total * (total - 1)))
    if variance <= 0:  # every value in one bucket: no ordering at all
        return Test(effect, 1.0, name, too_small)
    z = (abs(u_b - mean) - 0.5) / math.sqrt(variance)
    p = float(min(1.0, 2 * stats.norm.sf(max(z, 0.0))))
    return Test(effect, p, name, too_small)
