"""The statistics monitors decide with (pure functions, no database).

docs/monitors.md explains each with a worked example. In short: a baseline is the median
of the same window in previous weeks, its spread the MAD scaled to a standard deviation
(1.4826 x MAD), floored so a perfectly steady client does not alert on noise; a rate also
has to pass a one-sided Fisher exact test against the pooled baseline weeks, a volume drop
a Poisson test, and a silence is a gap in which this client's normal rate makes zero logs
improbable.
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


def rate_worse_p(bad: int, samples: int, base_bad: int, base_samples: int) -> float:
    """One-sided p-value of the window's share of bad runs being higher than the baseline's.

    Fisher's exact test on the 2x2 table (window, baseline) x (bad, not bad): given the
    bad runs of both together, the chance that the window holds ``bad`` or more of them,
    P(X >= bad) for X ~ Hypergeometric(samples + base_samples, bad + base_bad, samples).
    Exact at the small counts rare errors come in, where the normal approximation's tail
    is unreliable, and it accounts for the baseline's own noise (a baseline of 0 in 600
    runs is not proof the true rate is 0). "Bad" is a failure for the success rate, an
    error for the error rate, an escalation for the escalation rate.
    """
    if samples <= 0 or base_samples <= 0 or bad <= 0:
        return 1.0
    return float(scipy_stats.hypergeom.sf(bad - 1, samples + base_samples, bad + base_bad, samples))


def poisson_lower_p(observed: int, expected: float) -> float:
    """P(X <= observed) for X ~ Poisson(expected): how unlikely so few runs are."""
    if expected <= 0:
        return 1.0
    return float(scipy_stats.poisson.cdf(observed, expected))


def silence_p(expected: float) -> float:
    """P(no log at all) when ``expected`` logs were due: exp(-expected) (Poisson)."""
    return math.exp(-max(expected, 0.0))
