"""The monitors' batched reads (per client and environment, many clients at once) equal a
raw recount, edges and all."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from collector.readmodel import reads
from collector.readmodel.facts import hour_floor
from collector.tests.factories import ClientFactory, WorkflowLogFactory
from collector.tests.recount import recount, recount_durations

NOW = dt.datetime(2026, 11, 20, 12, 23, 17, tzinfo=dt.UTC)
ENVIRONMENTS = ("production", "staging")


@pytest.fixture
def logs(db):
    """Two clients, logs in both environments around now and a week and two weeks back,
    with minutes cutting through the windows' partial hours."""
    rng = random.Random(9)
    clients = [ClientFactory(slug="acme"), ClientFactory(slug="globex")]
    for client in clients:
        for _ in range(120):
            back = rng.choice([0, 7 * 24 * 60, 14 * 24 * 60]) + rng.randrange(-20, 400)
            WorkflowLogFactory(
                client=client,
                timestamp=NOW - dt.timedelta(minutes=back, seconds=rng.randrange(60)),
                environment=rng.choice(ENVIRONMENTS),
                status=rng.choice(["SUCCESS", "FAILED", "ESCALATED"]),
                execution_time_seconds=rng.choice([None, rng.lognormvariate(1.5, 0.5)]),
                overall_confidence=rng.random(),
            )
    return clients


def _spans() -> dict[str, reads.Span]:
    found = {}
    for minutes in (60, 360):
        for week in range(3):
            end = NOW - dt.timedelta(days=7 * week)
            found[f"{minutes}/{week}"] = reads.Span(end - dt.timedelta(minutes=minutes), end)
    return found


def test_totals_per_client_and_environment_equal_a_recount(logs):
    spans = _spans()
    measures = ("runs", "n_success", "n_escalated", "conf_n", "conf_sum")
    got = reads.totals_by_client_environment([c.pk for c in logs], spans, measures)
    checked = 0
    for client in logs:
        for environment in ENVIRONMENTS:
            for name, span in spans.items():
                expected = recount(client.pk, span.start, span.end, environment=environment)
                found = got.get((client.pk, environment), {}).get(name)
                for measure in measures:
                    value = found[measure] if found else 0
                    assert value == pytest.approx(expected[measure]), (client, name, measure)
                checked += expected["runs"]
    assert checked > 100  # the windows hold logs: the comparison is not of zeros


def test_duration_histograms_per_client_and_environment_equal_a_recount(logs):
    spans = _spans()
    got = reads.duration_histograms_by_client_environment([c.pk for c in logs], spans)
    for client in logs:
        for environment in ENVIRONMENTS:
            for name, span in spans.items():
                expected = recount_durations(
                    client.pk, span.start, span.end, environment=environment
                )
                found = got.get((client.pk, environment), {}).get(name, {})
                assert {b: n for b, n in found.items() if n} == expected, (client, name)


def test_last_log_per_client_and_environment_sees_only_the_span(logs):
    span = reads.Span(NOW - dt.timedelta(days=20), NOW - dt.timedelta(minutes=3))
    got = reads.last_log_by_client_environment([c.pk for c in logs], span)
    for client in logs:
        for environment in ENVIRONMENTS:
            expected = recount(client.pk, span.start, span.end, environment=environment)
            assert got.get((client.pk, environment)) == expected["last_at"]


def test_hourly_runs_count_each_whole_hour(logs):
    start = hour_floor(NOW) - dt.timedelta(hours=6)
    got = reads.hourly_runs_by_client_environment(
        [logs[0].pk], [reads.Span(start, hour_floor(NOW))]
    )
    assert all(client_id == logs[0].pk for client_id, _ in got)
    for environment in ENVIRONMENTS:
        for hours in range(6):
            hour = start + dt.timedelta(hours=hours)
            expected = recount(
                logs[0].pk, hour, hour + dt.timedelta(hours=1), environment=environment
            )
            assert got.get((logs[0].pk, environment), {}).get(hour, 0) == expected["runs"]
