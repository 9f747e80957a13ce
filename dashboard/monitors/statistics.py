"""The statistics monitors decide with (pure functions, no database).

docs/monitors.md explains each with a worked example. In short: a baseline is the median
of the same window in previous weeks, its spread the MAD scaled to a standard deviation
(1.4826 x MAD), floored so a perfectly steady client does not alert on noise; a rate also
has to pass a one-sided two-proportion z-test, a volume drop a Poisson test, and a silence
is a gap in which this client's normal rate makes zero logs improbable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as scipy_stats

# MAD x 1.4826 estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826


@dataclass(frozen=True)
class Band:
    """The normal range: ``median`` ± ``sensitivity`` x ``spread``."""

    median: float
    spread: float
    low: float
    high: float

    def narrowed(self, fraction: float) -> Band:
        """The same centre, ``fraction`` of the width (hysteresis: where an alert resolves)."""
        half = (self.high - self.median) * fraction
        return Band(self.median, self.spread, self.median - half, self.median + half)

    def beyond(self, value: float, *, higher_is_worse: bool) -> bool:
        """Whether ``value`` lies outside the band on the bad side."""
        return value > self.high if higher_is_worse else value < self.low


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def mad(values: Sequence[float]) -> float:
    """The median absolute deviation, scaled to a standard deviation (x 1.4826)."""
    centre = median(values)
    return MAD_SCALE * median([abs(value - centre) for value in values])


def robust_band(values: Sequence[float], *, sensitivity: float, floor: float = 0.0) -> Band:
    """median ± sensitivity x max(scaled MAD, floor) of the baseline values."""
    centre = median(values)
    spread = max(mad(values), floor)
    return Band(centre, spread, centre - sensitivity * spread, centre + sensitivity * spread)


def binomial_standard_error(rate: float, samples: int) -> float:
    """sqrt(p (1 - p) / n), with p kept one run away from 0 and 1, so a baseline that was
    always 100 % still allows a run's worth of noise in a window of ``samples`` runs."""
    if samples <= 0:
        return math.inf
    edge = 1 / (samples + 1)
    clipped = min(max(rate, edge), 1 - edge)
    return math.sqrt(clipped * (1 - clipped) / samples)


def two_proportion_p(
    successes: int, samples: int, base_successes: int, base_samples: int, *, higher_is_worse: bool
) -> float:
    """One-sided p-value of the window's proportion being worse than the baseline's.

    The pooled two-proportion z-test: z = (p1 - p0) / sqrt(p (1 - p) (1/n1 + 1/n0)),
    with p the pooled proportion; "worse" is higher when ``higher_is_worse``.
    """
    if samples <= 0 or base_samples <= 0:
        return 1.0
    pooled = (successes + base_successes) / (samples + base_samples)
    variance = pooled * (1 - pooled) * (1 / samples + 1 / base_samples)
    if variance <= 0:
        return 1.0  # both all-or-nothing and equal: no difference to test
    z = (successes / samples - base_successes / base_samples) / math.sqrt(variance)
    if not higher_is_worse:
        z = -z
    return 0.5 * math.erfc(z / math.sqrt(2))  # P(Z >= z)


def poisson_lower_p(observed: int, expected: float) -> float:
    """P(X <= observed) for X ~ Poisson(expected): how unlikely so few runs are."""
    if expected <= 0:
        return 1.0
    return float(scipy_stats.poisson.cdf(observed, expected))


def silence_p(expected: float) -> float:
    """P(no log at all) when ``expected`` logs were due: exp(-expected) (Poisson)."""
    return math.exp(-max(expected, 0.0))
