"""The review queue's order, its filters, its sample (seeded, drawn from every success
alike) and "next"."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from collector.tests.factories import WorkflowLogFactory
from dashboard.reviews.selectors import (
    QUEUE_TIER_SIZE,
    SAMPLE_DRAWS,
    QueueReason,
    review_queue,
    review_queue_next,
)
from dashboard.reviews.services import verdict_record
from dashboard.selectors import DashboardFilters, Window

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)


def filters(days: int = 7, **extra: str) -> DashboardFilters:
    return DashboardFilters(window=Window(NOW - dt.timedelta(days=days), NOW), **extra)


def log(client, hours_ago: float, **fields):
    defaults = {"status": "SUCCESS", "overall_confidence": 0.9, "hallucination_risk": 0.1}
    return WorkflowLogFactory(
        client=client, timestamp=NOW - dt.timedelta(hours=hours_ago), **(defaults | fields)
    )


def ids(items) -> list:
    return [item.log.log_id for item in items]


def test_issues_come_first_newest_first_then_low_confidence_then_high_risk_then_the_sample(
    client_a,
):
    failed_old = log(client_a, 50, status="FAILED")
    escalated = log(client_a, 10, status="ESCALATED")
    error = log(client_a, 20, status="ERROR")
    low = log(client_a, 5, overall_confidence=0.2)
    lower = log(client_a, 6, overall_confidence=0.1)
    risky = log(client_a, 7, hallucination_risk=0.8)
    riskier = log(client_a, 8, hallucination_risk=0.95)
    plain = log(client_a, 9)
    items = review_queue(client=client_a, filters=filters(), seed=1)
    assert ids(items) == [
        escalated.log_id,
        error.log_id,
        failed_old.log_id,
        lower.log_id,
        low.log_id,
        riskier.log_id,
        risky.log_id,
        plain.log_id,
    ]
    assert [item.reason for item in items[-2:]] == [QueueReason.HIGH_RISK, QueueReason.SAMPLE]


def test_runs_with_a_verdict_other_clients_and_runs_outside_the_filters_are_left_out(
    client_a, client_b, user_a
):
    judged = log(client_a, 1, status="FAILED")
    verdict_record(client=client_a, log_id=judged.log_id, user=user_a, kind="correct")
    log(client_b, 1, status="FAILED")
    log(client_a, 24 * 8, status="FAILED")  # before the window
    log(client_a, 2, status="FAILED", environment="staging")
    log(client_a, 2, status="FAILED", workflow_version="v9")
    log(client_a, 3, environment="staging")
    wanted = [log(client_a, 4, status="ERROR"), log(client_a, 5)]
    items = review_queue(
        client=client_a, filters=filters(environment="production", version="v1.0"), seed=3
    )
    assert ids(items) == [w.log_id for w in wanted]


def test_each_tier_is_bounded(client_a):
    for hour in range(QUEUE_TIER_SIZE + 3):
        log(client_a, hour + 1, status="FAILED")
    items = review_queue(client=client_a, filters=filters(), seed=0)
    assert len(items) == QUEUE_TIER_SIZE


def test_the_same_seed_draws_the_same_sample_and_another_seed_another(client_a):
    for hour in range(60):
        log(client_a, hour + 0.5)
    first = ids(review_queue(client=client_a, filters=filters(), seed=11))
    assert len(first) == QUEUE_TIER_SIZE and len(set(first)) == QUEUE_TIER_SIZE
    assert ids(review_queue(client=client_a, filters=filters(), seed=11)) == first
    others = {
        tuple(ids(review_queue(client=client_a, filters=filters(), seed=s))) for s in range(5)
    }
    assert len(others) > 1


def test_the_sample_is_drawn_per_run_not_per_day(client_a):
    """A busy day is sampled in proportion to its runs: with 45 successes one day and 5
    the other, drawing a day first would take all 5 quiet runs into nearly every sample."""
    busy = {log(client_a, 24 * 2 + minute / 60).log_id for minute in range(45)}
    quiet = {log(client_a, 24 * 5 + hour).log_id for hour in range(5)}
    counts: Counter[str] = Counter()
    for seed in range(30):
        for log_id in ids(review_queue(client=client_a, filters=filters(), seed=seed)):
            counts["busy" if log_id in busy else "quiet" if log_id in quiet else "?"] += 1
    assert counts["?"] == 0
    # 15 of 50 runs a sample: about 1.5 quiet ones (5 of 50); by day, about 5.
    assert counts["quiet"] / 30 < 3


def test_a_short_window_samples_by_hour(client_a):
    for minute in range(20):
        log(client_a, minute / 60 + 0.01)
    items = review_queue(
        client=client_a,
        filters=DashboardFilters(window=Window(NOW - dt.timedelta(hours=24), NOW)),
        seed=5,
    )
    assert len(items) == QUEUE_TIER_SIZE
    assert all(item.reason == QueueReason.SAMPLE for item in items)


@pytest.mark.django_db
def test_an_empty_window_is_an_empty_queue(client_a):
    assert review_queue(client=client_a, filters=filters(), seed=1) == []


def test_next_after_a_skipped_run_is_the_one_after_it_and_after_a_judged_run_its_successor(
    client_a,
):
    runs = [log(client_a, hour + 1, status="FAILED") for hour in range(3)]
    items = review_queue(client=client_a, filters=filters(), seed=0)
    found = review_queue_next(items=items, after=runs[0].log_id, position=0)
    assert found is not None and found[0].log.log_id == runs[1].log_id and found[1] == 1
    # runs[1] judged: it left the queue, and the run that took its place (1) is next.
    remaining = [item for item in items if item.log.log_id != runs[1].log_id]
    found = review_queue_next(items=remaining, after=runs[1].log_id, position=1)
    assert found is not None and found[0].log.log_id == runs[2].log_id
    assert review_queue_next(items=remaining, after=runs[2].log_id, position=2) is None


def test_the_queue_reads_a_bounded_number_of_queries(client_a, django_assert_max_num_queries):
    for hour in range(40):
        log(client_a, hour + 1, status=["SUCCESS", "FAILED"][hour % 2])
    window = filters()
    # 3 issue queries, 2 metric tiers, the read model's counts (a few), then one query a
    # draw: bounded by the draws, whatever the logs.
    with django_assert_max_num_queries(3 + 2 + 6 + SAMPLE_DRAWS):
        review_queue(client=client_a, filters=window, seed=2)
