"""The comparison page and its statistics, on constructed data with known answers."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from collector.services import logs_store
from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.forms_compare import parse_range
from dashboard.monitors import statistics_compare as st
from dashboard.monitors.models import Metric
from dashboard.selectors.compare import (
    EXECUTION_DISTRIBUTION,
    CompareQuery,
    compare_all_clients_unscoped,
    compare_client,
    version_previous,
)


def store(client, count: int, successes: int, **fields) -> None:
    """``count`` logs in one batch (as ingestion stores them), the first ``successes``
    SUCCESS and the rest FAILED, an hour ago and minutes apart."""
    base = timezone.now() - dt.timedelta(hours=3)
    logs = [
        WorkflowLogFactory.build(
            client=client,
            status="SUCCESS" if i < successes else "FAILED",
            timestamp=base + dt.timedelta(seconds=10 * i),
            **fields,
        )
        for i in range(count)
    ]
    logs_store(client_id=client.pk, logs=logs)


def row(comparison, metric):
    return next(m for m in comparison.metrics if m.metric == metric)


def window() -> dt.datetime:
    now = timezone.now()
    from collector.readmodel.reads import Span

    return Span(now - dt.timedelta(days=30), now)


# The statistics, against scipy on the expanded data ------------------------------------


def test_two_proportion_test_of_90_against_70_percent_over_200_runs_is_significant():
    test = st.two_proportion_test(180, 200, 140, 200)
    # pooled 0.8: z = 0.2 / sqrt(0.8 * 0.2 * 2 / 200) = 5.
    assert test.p_value == pytest.approx(2 * stats.norm.sf(5.0))
    assert test.significant and not test.too_small
    assert test.difference == pytest.approx(-0.2)


def test_ten_runs_a_side_are_too_small_to_say_whatever_the_p_value():
    test = st.two_proportion_test(10, 10, 0, 10)
    assert test.p_value < 0.001
    assert test.too_small and not test.significant


def test_a_rare_event_with_enough_expected_counts_is_z_tested_not_refused():
    """0 against 20 errors in 1000 runs: pooled 1 %, expected 10 per side, z = 4.49."""
    test = st.two_proportion_test(0, 1000, 20, 1000)
    pooled = 20 / 2000
    z = 0.02 / (pooled * (1 - pooled) * 2 / 1000) ** 0.5
    assert test.name == "two-proportion z-test"
    assert test.p_value == pytest.approx(2 * stats.norm.sf(z))
    assert test.p_value < 1e-5
    assert test.significant and not test.too_small


def test_below_five_expected_the_rate_is_tested_exactly_by_fisher():
    """0 against 6 in 1000 runs: expected 3 per side, so Fisher's exact test."""
    test = st.two_proportion_test(0, 1000, 6, 1000)
    assert test.name == "Fisher's exact test"
    expected = stats.fisher_exact([[0, 1000], [6, 994]]).pvalue
    assert test.p_value == pytest.approx(expected)
    assert 0.01 < test.p_value < 0.05
    assert test.significant and not test.too_small
    assert test.difference == pytest.approx(0.006)
    # All successes on both sides: nothing to tell apart.
    same = st.two_proportion_test(500, 500, 400, 400)
    assert same.p_value == 1.0 and not same.significant


def test_wilson_interval_matches_the_formula_and_stays_inside_zero_one():
    estimate = st.wilson_interval(0, 10)
    assert estimate.low == 0.0
    assert estimate.high == pytest.approx(0.2775, abs=1e-4)
    estimate = st.wilson_interval(180, 200)
    assert estimate.low == pytest.approx(0.8506, abs=1e-3)
    assert estimate.high == pytest.approx(0.9343, abs=1e-3)
    assert st.wilson_interval(0, 0).value is None


def test_mann_whitney_on_buckets_equals_scipy_on_the_tied_values():
    histogram_a = {100: 30, 110: 50, 120: 20}
    histogram_b = {105: 10, 110: 40, 130: 50}

    def expand(h):
        return [bucket for bucket, count in h.items() for _ in range(count)]

    ours = st.mann_whitney(histogram_a, histogram_b)
    theirs = stats.mannwhitneyu(
        expand(histogram_b), expand(histogram_a), method="asymptotic", use_continuity=True
    )
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ours.difference == pytest.approx(theirs.statistic / (100 * 100) - 0.5)
    assert ours.significant


def test_welch_equals_scipy_from_the_same_statistics():
    ours = st.welch_test(0.80, 0.04, 120, 0.75, 0.09, 80)
    theirs = stats.ttest_ind_from_stats(0.75, 0.09**0.5, 80, 0.80, 0.04**0.5, 120, equal_var=False)
    # ttest_ind_from_stats takes sample standard deviations: n/(n-1) apart from ours.
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=0.05)


def test_the_variance_bounds_are_never_below_the_true_variance():
    rng = random.Random(9)
    for _ in range(50):
        values = [min(0.999, max(0.0, rng.gauss(rng.random(), 0.2))) for _ in range(200)]
        mean = sum(values) / len(values)
        true = sum((v - mean) ** 2 for v in values) / len(values)
        counts = [0] * 10
        for v in values:
            counts[min(int(v * 10), 9)] += 1
        buckets = [(i / 10, (i + 1) / 10, counts[i]) for i in range(10)]
        assert st.variance_bound_buckets(mean, buckets) >= true
        assert st.variance_bound_unit(mean) >= true


def test_the_p95_interval_brackets_p95_and_stays_open_with_few_runs():
    histogram = {bucket: 1 for bucket in range(300, 500)}  # 200 distinct values
    from collector.readmodel.facts import percentile_from_histogram

    p95 = percentile_from_histogram(histogram, 0.95)
    estimate = st.quantile_interval(histogram, 0.95, p95)
    assert estimate.low < p95 < estimate.high
    few = {bucket: 1 for bucket in range(300, 310)}
    assert st.quantile_interval(few, 0.95, 1.0).high is None


# The selectors, on stored logs -----------------------------------------------------------


@pytest.mark.django_db
def test_version_90_against_70_percent_success_is_significant_and_a_is_better():
    acme = ClientFactory(slug="acme")
    store(acme, 200, 180, workflow_version="v1")
    store(acme, 200, 140, workflow_version="v2")
    result = compare_client(
        client=acme, query=CompareQuery(dimension="version", a="v1", b="v2", window=window())
    )
    success = row(result, Metric.SUCCESS_RATE)
    assert (result.runs_a, result.runs_b) == (200, 200)
    assert success.a.value == pytest.approx(0.9) and success.b.value == pytest.approx(0.7)
    assert success.test.p_value == pytest.approx(2 * stats.norm.sf(5.0))
    assert success.test.significant and success.better == "a"
    assert not result.too_small
    # Same confidence and durations on both sides: no difference there.
    assert not row(result, Metric.CONFIDENCE).test.significant
    assert not row(result, Metric.P95_EXECUTION).test.significant


@pytest.mark.django_db
def test_execution_time_difference_is_found_by_the_rank_test():
    acme = ClientFactory(slug="acme")
    store(acme, 60, 60, environment="production", execution_time_seconds=3.0)
    store(acme, 60, 60, environment="staging", execution_time_seconds=9.0)
    result = compare_client(
        client=acme,
        query=CompareQuery(dimension="environment", a="production", b="staging", window=window()),
    )
    p95 = row(result, Metric.P95_EXECUTION)
    assert p95.a.value == pytest.approx(3.0, rel=0.02)
    assert p95.b.value == pytest.approx(9.0, rel=0.02)
    distribution = row(result, EXECUTION_DISTRIBUTION)
    assert distribution.a.value == pytest.approx(3.0, rel=0.02)
    assert distribution.test.significant and distribution.better == "a"
    # p95 is described, not tested: no p-value, no verdict of its own.
    assert p95.test.p_value is None and not p95.tested and p95.better == ""


@pytest.fixture
def faster_bulk_slower_tail(client_a):
    """B is faster for 90 % of runs (0.8 s against 1.0 s) and slower in the tail (5.3 s
    against 5.0 s): Mann-Whitney says B is faster, p95 says B is slower."""
    store(client_a, 900, 900, environment="a", execution_time_seconds=1.0)
    store(client_a, 100, 100, environment="a", execution_time_seconds=5.0)
    store(client_a, 900, 900, environment="b", execution_time_seconds=0.8)
    store(client_a, 100, 100, environment="b", execution_time_seconds=5.3)
    return client_a


def test_the_verdict_follows_the_test_not_p95_when_they_point_opposite_ways(
    faster_bulk_slower_tail,
):
    result = compare_client(
        client=faster_bulk_slower_tail,
        query=CompareQuery(dimension="environment", a="a", b="b", window=window()),
    )
    p95 = row(result, Metric.P95_EXECUTION)
    assert p95.a.value == pytest.approx(5.0, rel=0.02)
    assert p95.b.value == pytest.approx(5.3, rel=0.02)
    assert p95.difference > 0  # B's p95 is higher...
    distribution = row(result, EXECUTION_DISTRIBUTION)
    # ... yet B's runs tend to be faster: P(B slower) = 0.1 (B's tail beats every A run).
    assert distribution.test.difference == pytest.approx(0.1 - 0.5, abs=0.01)
    assert distribution.test.significant and distribution.better == "b"
    assert distribution.a.value == pytest.approx(1.0, rel=0.02)
    assert distribution.b.value == pytest.approx(0.8, rel=0.02)
    assert p95.better == "" and p95.test.p_value is None


def test_the_page_says_b_is_faster_and_gives_p95_no_verdict(http_a, faster_bulk_slower_tail):
    path, query = url(faster_bulk_slower_tail, dimension="environment", a="a", b="b")
    html = http_a.get(path, query).content.decode()
    assert "Execution time (distribution, Mann-Whitney" in html
    verdict = f'data-testid="verdict-{EXECUTION_DISTRIBUTION}"><span class="significant good">'
    assert verdict + "significant: B better" in html
    assert 'data-testid="verdict-p95_execution_seconds"><span class="muted">descriptive' in html
    assert "P(B slower) 10.0%" in html


@pytest.mark.django_db
def test_owner_comparison_of_a_version_spans_every_client():
    acme, globex = ClientFactory(slug="acme"), ClientFactory(slug="globex")
    store(acme, 20, 20, workflow_version="v1")
    store(globex, 30, 15, workflow_version="v1")
    store(globex, 40, 40, workflow_version="v2")
    result = compare_all_clients_unscoped(
        query=CompareQuery(dimension="version", a="v1", b="v2", window=window())
    )
    assert (result.runs_a, result.runs_b) == (50, 40)
    assert row(result, Metric.SUCCESS_RATE).a.value == pytest.approx(35 / 50)


def test_previous_version_is_in_natural_order():
    assert version_previous(["v1.9", "v1.10", "v1.2"], "v1.10") == "v1.9"
    assert version_previous(["v1.9", "v1.10"], "v1.9") is None


@pytest.mark.parametrize(
    "text",
    ["2026-05-01", "2026-05-01..", "2026-05-31..2026-05-01", "x..y", "0001-01-01..0001-01-02"],
)
def test_a_bad_period_range_is_refused(text):
    from django import forms

    with pytest.raises(forms.ValidationError):
        parse_range(text)


# The pages -------------------------------------------------------------------------------


def url(client, **query) -> tuple[str, dict]:
    return reverse("dashboard:compare", args=[client.slug]), query


def test_the_page_shows_significance_on_200_against_200_runs(http_a, client_a):
    store(client_a, 200, 180, workflow_version="v1")
    store(client_a, 200, 140, workflow_version="v2")
    path, query = url(client_a, dimension="version", a="v1", b="v2")
    response = http_a.get(path, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert "significant: A better" in html
    assert 'data-testid="too-small"' not in html


def test_the_page_finds_a_rare_error_rate_difference(http_a, client_a):
    store(client_a, 1000, 1000, workflow_version="v1")
    store(client_a, 1000, 980, workflow_version="v2")  # 20 FAILED of 1000
    path, query = url(client_a, dimension="version", a="v1", b="v2")
    html = http_a.get(path, query).content.decode()
    assert 'data-testid="verdict-error_rate"><span class="significant bad">' in html
    assert "significant: A better" in html
    assert "Fisher" in html  # the footnote says when the exact test is used


def test_the_page_says_how_likely_one_false_significant_is_among_its_tests(http_a, client_a):
    store(client_a, 50, 45, workflow_version="v1")
    store(client_a, 50, 44, workflow_version="v2")
    path, query = url(client_a, dimension="version", a="v1", b="v2")
    response = http_a.get(path, query)
    comparison = response.context["comparison"]
    assert comparison.tests == 6  # 3 rates, 2 means, the duration distribution; p95 is not
    assert comparison.chance_of_a_false_significant == pytest.approx(1 - 0.95**6)
    html = response.content.decode()
    assert "6 tests at 0.05 each" in html
    assert "is about 26%" in html and "roughly one in four" in html


def test_adjacent_periods_are_compared(http_a, client_a):
    path, query = url(
        client_a, dimension="period", a="2026-01-01..2026-01-07", b="2026-01-08..2026-01-14"
    )
    assert http_a.get(path, query).status_code == 200


def test_the_page_warns_when_samples_are_too_small(http_a, client_a):
    store(client_a, 10, 9, workflow_version="v1")
    store(client_a, 10, 3, workflow_version="v2")
    path, query = url(client_a, dimension="version", a="v1", b="v2")
    html = http_a.get(path, query).content.decode()
    assert 'data-testid="too-small"' in html
    assert "fewer than 30 runs" in html
    assert 'data-testid="verdict-success_rate"><span class="warning-small">' in html


def test_two_periods_of_the_client_are_compared_day_by_day(http_a, client_a):
    today = timezone.now().date()
    store(client_a, 5, 5)  # today - 3 hours: in the second period
    WorkflowLogFactory(
        client=client_a, timestamp=timezone.now() - dt.timedelta(days=10), status="FAILED"
    )
    first = f"{today - dt.timedelta(days=14)}..{today - dt.timedelta(days=7)}"
    second = f"{today - dt.timedelta(days=6)}..{today}"
    path, query = url(client_a, dimension="period", a=first, b=second)
    response = http_a.get(path, query)
    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert (comparison.runs_a, comparison.runs_b) == (1, 5)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"dimension": "version", "a": "v1", "b": "v9"}, "No runs of version"),
        ({"dimension": "version", "a": "v1", "b": "v1"}, "two different sides"),
        ({"dimension": "environment", "a": "production", "b": "mars"}, "No runs of environment"),
        (
            {"dimension": "period", "a": "2026-05-01..2026-04-01", "b": "2026-06-01..2026-06-02"},
            "ends before",
        ),
        ({"dimension": "period", "a": "May", "b": "June"}, "YYYY-MM-DD..YYYY-MM-DD"),
        (
            {"dimension": "period", "a": "2026-01-01..2026-01-07", "b": "20260101..20260107"},
            "The two periods overlap (2026-01-01..2026-01-07 is in both)",
        ),
        (
            {"dimension": "period", "a": "2026-01-01..2026-01-07", "b": "2026-01-07..2026-01-14"},
            "The two periods overlap (2026-01-07..2026-01-07 is in both)",
        ),
        (
            {"dimension": "period", "a": "2026-01-01..2026-01-31", "b": "2026-01-10..2026-01-12"},
            "The two periods overlap (2026-01-10..2026-01-12 is in both)",
        ),
        ({"dimension": "tea", "a": "v1", "b": "v2"}, "Select a valid choice"),
        ({"dimension": "version", "a": "v1", "b": "v" * 65}, "at most 64"),
    ],
)
def test_bad_parameters_are_form_errors_not_500(http_a, client_a, query, message):
    store(client_a, 3, 3, workflow_version="v1")
    path, _ = url(client_a)
    response = http_a.get(path, query)
    assert response.status_code == 400
    assert 'data-testid="compare-errors"' in response.content.decode()
    assert message in response.content.decode()


def test_another_clients_version_is_unknown_here(http_a, client_a, client_b):
    """Nothing of client B leaks through A's page: B's versions are simply not A's."""
    store(client_a, 3, 3, workflow_version="v1")
    store(client_b, 3, 3, workflow_version="secret-v7")
    path, query = url(client_a, dimension="version", a="v1", b="secret-v7")
    response = http_a.get(path, query)
    assert response.status_code == 400
    assert response.context["comparison"] is None
    assert "secret-v7" not in str(response.context["options"])


def test_a_first_visit_shows_the_form_and_the_versions_seen(http_a, client_a):
    store(client_a, 3, 3, workflow_version="v1")
    store(client_a, 3, 3, workflow_version="v2")
    path, _ = url(client_a)
    response = http_a.get(path, {"b": "v2"})
    assert response.status_code == 200
    assert response.context["comparison"] is None
    assert "seen in this period: v1, v2" in response.content.decode()


def test_the_owner_compare_page_is_the_owners_only(http_owner, http_a, client_a, client_b):
    store(client_a, 3, 3, workflow_version="v1")
    store(client_b, 3, 0, workflow_version="v2")
    path = reverse("dashboard:owner_compare")
    assert http_a.get(path).status_code == 404
    response = http_owner.get(path, {"dimension": "version", "a": "v1", "b": "v2"})
    assert response.status_code == 200
    assert response.context["comparison"].runs_b == 3


def test_the_dashboard_links_the_chosen_version_to_a_comparison_with_the_previous(http_a, client_a):
    store(client_a, 3, 3, workflow_version="v1.9")
    store(client_a, 3, 3, workflow_version="v1.10")
    dashboard = reverse("dashboard:client", args=[client_a.slug])
    response = http_a.get(dashboard, {"version": "v1.10", "period": "7d"})
    link = response.context["compare_url"]
    assert link == (
        reverse("dashboard:compare", args=[client_a.slug])
        + "?dimension=version&a=v1.9&b=v1.10&period=7d"
    )
    assert 'data-testid="compare-with"' in response.content.decode()
    assert http_a.get(link).status_code == 200
    assert "compare-with" not in http_a.get(dashboard).content.decode()
