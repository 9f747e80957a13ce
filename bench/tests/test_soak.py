"""The soak's own accounting (bench/soak.py): what it calls lost, duplicated, miscounted or
which phase a probe falls in must be right, or a PASS means nothing."""

from __future__ import annotations

import datetime as dt
import itertools

import psycopg
import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

from bench.soak import (
    Fault,
    answer_label,
    answer_problems,
    delivery_check,
    fault_impact,
    fault_plan,
    latency_summary,
    phase_of,
    rollup_check,
    table_mismatches,
)
from collector.models import LogStatus
from collector.readmodel.writes import rollups_compact
from collector.tests.factories import ClientFactory, WorkflowLogFactory

FAULTS = [
    Fault("worker kill", 10.0, 10.0),
    Fault("server down", 30.0, 50.0),
    Fault("PostgreSQL restart", 80.0, 84.0),
]


def test_a_probe_belongs_to_the_fault_it_falls_in_or_its_settling_time():
    assert phase_of(9.9, FAULTS) == "steady"
    assert phase_of(10.0, FAULTS) == "worker kill"
    assert phase_of(14.9, FAULTS, settle=5) == "worker kill"
    assert phase_of(15.1, FAULTS, settle=5) == "steady"
    assert phase_of(54.0, FAULTS, settle=5) == "server down"
    assert phase_of(82.0, FAULTS) == "PostgreSQL restart"
    assert phase_of(100.0, FAULTS) == "steady"


def test_lost_duplicated_and_unexpected_log_ids_are_each_counted():
    result = delivery_check(["a", "b", "c", "d"], {"a": 1, "b": 3, "d": 1, "x": 1, "gone": 0})
    assert result.lost == ["c"]
    assert result.duplicated == 2  # b stored three times
    assert result.unexpected == ["x"]
    assert result.stored == 6
    assert not result.ok


def test_every_log_stored_once_is_a_clean_delivery():
    result = delivery_check(["a", "b"], {"a": 1, "b": 1})
    assert result.ok
    assert (result.created, result.stored, result.lost, result.duplicated) == (2, 2, [], 0)


def test_a_key_on_one_side_only_or_a_differing_count_is_a_mismatch():
    columns = ("runs", "conf_sum")
    floats = frozenset({"conf_sum"})
    same = {("k1",): (3, 0.1 + 0.2)}
    assert table_mismatches("t", same, {("k1",): (3, 0.3)}, columns, floats) == []
    assert table_mismatches("t", same, {("k1",): (4, 0.3)}, columns, floats) == [
        "t ('k1',): runs rollup=3 recount=4"
    ]
    assert len(table_mismatches("t", same, {}, columns, floats)) == 2
    assert table_mismatches("t", {}, {("k2",): (1, 0.5)}, columns, floats) == [
        "t ('k2',): runs rollup=0 recount=1",
        "t ('k2',): conf_sum rollup=0 recount=0.5",
    ]


def test_a_short_run_plans_every_fault_kind_without_overlaps():
    plan = fault_plan(60, down=20, pg_down=3, kill_every=12)
    kinds = [kind for _, kind, _ in plan]
    assert {"worker kill", "server down", "PostgreSQL restart"} <= set(kinds)
    assert kinds.count("server down") == kinds.count("PostgreSQL restart") == 1
    ends = [(at, at + length) for at, _, length in plan]
    for (_, end), (start, _) in itertools.pairwise(ends):
        assert end < start
    assert all(at + length < 60 for at, _, length in plan)
    # The server is down at most a quarter of a short run.
    assert dict((kind, length) for _, kind, length in plan)["server down"] == 15


def test_latency_is_summarised_per_phase_with_failures_counted():
    samples = [(1.0, 0.010, True), (2.0, 0.020, True), (35.0, 0.001, False), (36.0, 0.5, True)]
    summary = latency_summary(samples, FAULTS)
    assert summary["steady"]["probes"] == 2
    assert summary["steady"]["failed"] == 0
    assert summary["steady"]["max_ms"] == pytest.approx(20)
    assert summary["server down"] == {
        "probes": 2,
        "failed": 1,
        "p50_ms": pytest.approx(250.5),
        "p99_ms": pytest.approx(495.01),
        "max_ms": pytest.approx(500),
    }
    assert summary["worker kill"]["probes"] == 0
    assert summary["worker kill"]["p50_ms"] is None


def test_a_faults_impact_is_its_failed_probes_until_the_first_acknowledgement():
    fault = Fault("server down", 30.0, 50.0)
    samples = [
        (29.5, 0.01, True),
        (30.5, 0.001, False),
        (40.0, 0.001, False),
        (50.5, 0.002, False),
        (51.0, 0.5, True),
        (52.0, 0.01, False),
    ]
    assert fault_impact(samples, fault) == {
        "failed_probes": 3,
        "ingest_outage_s": 21.0,  # from the probe at 30.5 s to the answer at 51.5 s
        "acknowledged_again_after_s": 1.5,
    }
    assert fault_impact(samples[4:], Fault("worker kill", 50.0, 50.0))["ingest_outage_s"] == 0
    assert fault_impact(samples[:4], fault)["acknowledged_again_after_s"] is None


class _Answer:
    def __init__(self, status_code: int, body: object) -> None:
        self.status_code = status_code
        self.body = body

    def json(self) -> object:
        if isinstance(self.body, str):
            raise ValueError("not JSON")
        return self.body


def test_an_error_answer_outside_the_json_error_shape_or_any_500_is_a_problem():
    json_503 = _Answer(503, {"error": {"code": "database_unavailable", "message": "..."}})
    assert answer_label(json_503) == "503"
    assert answer_label(_Answer(201, {"status": "created"})) == "201"
    html_502 = _Answer(502, "<html>Bad Gateway</html>")
    assert answer_label(html_502) == "502 not-JSON-error"
    json_500 = _Answer(500, {"error": {"code": "server_error", "message": "..."}})
    labels = ["201", "503", "ConnectionError", answer_label(html_502), answer_label(json_500)]
    assert answer_problems(labels) == ["500", "502 not-JSON-error"]
    assert answer_problems(["200", "201", "503", "429", "ConnectionError"]) == []


def _database_url() -> str:
    settings = connection.settings_dict
    return make_conninfo(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the soak's recount is PostgreSQL SQL"
)
def test_the_rollup_recount_finds_rollups_that_drifted_from_the_logs(transactional_db):
    client = ClientFactory()
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    WorkflowLogFactory(client=client)
    WorkflowLogFactory(client=client, status=LogStatus.FAILED, environment="staging")
    WorkflowLogFactory(
        client=client,
        status=LogStatus.ERROR,
        timestamp=hour_ago,
        error_type="TimeoutError",
        error_node="vision_search",
        overall_confidence=None,
    )
    url = _database_url()
    # The deltas the writes appended wait for compaction: the soak compacts first.
    assert rollup_check(url)[0].endswith("rollup delta row(s) left uncompacted")
    while rollups_compact(passes=50):
        pass
    assert rollup_check(url) == []

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE collector_rollup SET n_failed = n_failed + 1 WHERE grain = 'H' AND n_failed > 0"
        )
        conn.execute("UPDATE collector_errorrollup SET runs = runs + 1 WHERE grain = 'd'")
    problems = rollup_check(url)
    assert any(p.startswith("rollup[H]") and "n_failed rollup=2 recount=1" in p for p in problems)
    assert any(p.startswith("error rollup[d]") and "rollup=2 recount=1" in p for p in problems)
    assert len(problems) == 2
