"""The monitors' statistics, as pure functions: known values, edges and directions."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from dashboard.monitors.statistics import (
    MAD_SCALE,
    Band,
    binomial_standard_error,
    mad,
    median,
    poisson_lower_p,
    rate_worse_p,
    robust_band,
    silence_p,
)


def test_median_and_scaled_mad_ignore_one_outlier():
    values = [0.90, 0.91, 0.89, 0.90, 0.20]  # one incident week
    assert median(values) == pytest.approx(0.90)
    assert mad(values) == pytest.approx(MAD_SCALE * 0.01)


def test_robust_band_is_median_plus_minus_sensitivity_spreads():
    band = robust_band([10, 12, 14], sensitivity=2, floor=0)
    assert band == Band(
        median=12, spread=MAD_SCALE * 2, low=12 - 4 * MAD_SCALE, high=12 + 4 * MAD_SCALE
    )


def test_the_floor_widens_a_band_of_identical_weeks():
    band = robust_band([0.9] * 6, sensitivity=3, floor=0.05)
    assert (band.spread, band.low, band.high) == pytest.approx((0.05, 0.75, 1.05))


def test_narrowed_band_keeps_the_centre_and_halves_the_width():
    inner = Band(0.9, 0.05, 0.75, 1.05).narrowed(0.5)
    assert (inner.low, inner.high) == pytest.approx((0.825, 0.975))


@pytest.mark.parametrize(
    ("value", "higher_is_worse", "beyond"),
    [(0.7, False, True), (0.7, True, False), (1.1, True, True), (1.1, False, False)],
)
def test_beyond_looks_at_the_bad_side_only(value, higher_is_worse, beyond):
    assert Band(0.9, 0.05, 0.75, 1.05).beyond(value, higher_is_worse=higher_is_worse) is beyond


def test_binomial_standard_error_and_its_clipping_at_certainty():
    assert binomial_standard_error(0.9, 30) == pytest.approx(math.sqrt(0.09 / 30))
    # A baseline of 100 % still leaves one run's worth of noise.
    assert binomial_standard_error(1.0, 30) == pytest.approx(math.sqrt((1 / 31) * (30 / 31) / 30))
    assert binomial_standard_error(0.5, 0) == math.inf


def test_rate_worse_p_is_fishers_exact_one_sided_test():
    # 15 failures in 30 against 20 in 180 (the worked example of docs/monitors.md)
    table = [[15, 15], [20, 160]]
    expected = scipy_stats.fisher_exact(table, alternative="greater").pvalue
    assert rate_worse_p(15, 30, 20, 180) == pytest.approx(expected)
    assert rate_worse_p(15, 30, 20, 180) == pytest.approx(3.37e-6, rel=1e-2)


def test_rate_worse_p_does_not_call_a_few_rare_errors_significant():
    # 3 errors in 100 runs against none in 600: the normal approximation said p = 0.006,
    # which opened alerts on steady clients; exactly it is 0.003, and far from 1e-5.
    assert rate_worse_p(3, 100, 0, 600) == pytest.approx((100 * 99 * 98) / (700 * 699 * 698))
    assert rate_worse_p(3, 100, 0, 600) > 1e-3
    # 7 in 100 against 6 in 600 (1 %): still not proof at 1e-5; 12 is.
    assert rate_worse_p(7, 100, 6, 600) > 1e-5 > rate_worse_p(12, 100, 6, 600)


def test_rate_worse_p_is_one_sided_and_says_nothing_without_runs_or_bad_runs():
    assert rate_worse_p(20, 100, 100, 1000) < 0.01  # 20 % vs 10 %
    assert rate_worse_p(5, 100, 100, 1000) > 0.95  # better than the baseline
    assert rate_worse_p(0, 30, 0, 600) == 1.0
    assert rate_worse_p(0, 0, 10, 20) == 1.0
    assert rate_worse_p(5, 10, 0, 0) == 1.0


def test_poisson_lower_tail():
    assert poisson_lower_p(0, 7) == pytest.approx(math.exp(-7))
    assert poisson_lower_p(30, 30) > 0.5
    assert poisson_lower_p(10, 30) < 0.001
    assert poisson_lower_p(0, 0) == 1.0


def test_silence_p_is_the_chance_of_no_log_at_all():
    assert silence_p(math.log(1000)) == pytest.approx(0.001)
    assert silence_p(3) > 0.001 > silence_p(8)
