"""The read API (GET /api/v1/stats, GET /api/v1/logs/<log_id>): a client's key with the
read scope reads its own figures, computed by the dashboard's selector, and its own logs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from unittest import mock

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from collector.models import WorkflowLog
from collector.openapi import DEMO_CLIENT_SLUG
from collector.tests.factories import ApiKeyFactory, WorkflowLogFactory, log_document
from dashboard.demo import demo_seed
from dashboard.forms import DashboardFilterForm
from dashboard.selectors import Kpis, KpiValues, client_dashboard_numbers
from dashboard.tests.fixtures import CUSTOM_QUERY, WINDOW_END, WINDOW_START, seed_fixed_logs

STATS = "readapi:stats"


def log_url(log_id: object) -> str:
    return reverse("readapi:log", args=[str(log_id)])


@pytest.fixture
def reader(client_a):
    return ApiKeyFactory(client=client_a, scope_ingest=False, scope_read=True)


@pytest.fixture
def fixed(client_a, client_b):
    return seed_fixed_logs(client_a, client_b)


def get(url: str, key, params: dict | None = None):
    headers = {"Authorization": f"Bearer {key.raw_key}"} if key is not None else {}
    return HttpClient().get(url, params or {}, headers=headers)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def page_kpis(client, query: dict):
    """What the dashboard page computes for this query string."""
    filters = DashboardFilterForm(query).filters(now=timezone.now())
    return client_dashboard_numbers(client=client, filters=filters).kpis


# Every figure the KPI cards have: a figure added to KpiValues must reach the API too.
KPI_FIGURES = [f.name for f in dataclasses.fields(KpiValues)] + ["success_rate", "escalation_rate"]


# Stats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [{}, {"environment": "production"}, {"version": "v2.0"}, {"environment": "none"}]
)
def test_stats_are_the_figures_of_the_dashboards_own_selector(fixed, client_a, reader, extra):
    query = {**CUSTOM_QUERY, **extra}
    response = get(reverse(STATS), reader, query)
    assert response.status_code == 200, response.content
    body = response.json()
    kpis = page_kpis(client_a, query)
    for name in KPI_FIGURES:
        assert body["current"][name] == getattr(kpis.current, name), name
        assert body["previous"][name] == getattr(kpis.previous, name), name
    assert body["environment"] == extra.get("environment", "")
    assert body["version"] == extra.get("version", "")


def test_stats_of_a_custom_range_count_what_was_counted_by_hand(fixed, reader):
    body = get(reverse(STATS), reader, CUSTOM_QUERY).json()
    assert body["client_id"] == "acme" and body["period"] == "custom"
    # L1, L2, L3, L4, L5, L10 in the window (dashboard/tests/fixtures.py); L7, L8 before.
    current, previous = body["current"], body["previous"]
    assert (current["runs"], current["successes"], current["success_rate"]) == (6, 3, 0.5)
    assert (previous["runs"], previous["successes"]) == (2, 1)
    # L5 is the window's one ESCALATED run.
    assert (current["escalations"], current["escalation_rate"]) == (1, 1 / 6)
    assert dt.datetime.fromisoformat(current["start"]) == WINDOW_START
    assert dt.datetime.fromisoformat(current["end"]) == WINDOW_END
    assert dt.datetime.fromisoformat(previous["end"]) == WINDOW_START
    assert dt.datetime.fromisoformat(previous["start"]) == WINDOW_START - (
        WINDOW_END - WINDOW_START
    )


def test_stats_default_to_the_dashboards_30_days_ending_now(client_a, reader):
    WorkflowLogFactory(client=client_a, timestamp=timezone.now() - dt.timedelta(days=2))
    WorkflowLogFactory(client=client_a, timestamp=timezone.now() - dt.timedelta(days=40))
    body = get(reverse(STATS), reader).json()
    start = dt.datetime.fromisoformat(body["current"]["start"])
    end = dt.datetime.fromisoformat(body["current"]["end"])
    assert body["period"] == "30d" and end - start == dt.timedelta(days=30)
    assert abs(end - timezone.now()) < dt.timedelta(minutes=1)
    assert (body["current"]["runs"], body["previous"]["runs"]) == (1, 1)


def test_stats_of_a_client_without_logs_are_zero_and_null_not_errors(reader):
    body = get(reverse(STATS), reader, {"period": "7d"}).json()
    assert body["current"]["runs"] == 0
    assert body["current"]["success_rate"] is None
    assert body["current"]["median_execution_seconds"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"period": "1y"}, "period"),
        ({"period": "custom", "start": "2026-13-01", "end": "2026-11-10"}, "start"),
        ({"period": "custom", "start": "0001-01-01", "end": "2026-11-10"}, "start"),
        ({"period": "custom", "start": "2026-11-01", "end": "9999-12-31"}, "end"),
        ({"period": "custom", "start": "2026-11-01"}, "non_field_errors"),
        ({"period": "custom", "start": "2026-11-10", "end": "2026-11-01"}, "non_field_errors"),
        ({"period": "custom", "start": "2020-01-01", "end": "2026-01-01"}, "non_field_errors"),
        ({"environment": "e" * 65}, "environment"),
        ({"version": "v\x00"}, "version"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(reader, query, field):
    error = assert_error(get(reverse(STATS), reader, query), 400, "invalid")
    assert list(error["fields"]) == [field]
    assert error["fields"][field] and all(isinstance(m, str) for m in error["fields"][field])


def test_stats_are_read_where_the_dashboard_pages_read_the_replica_when_there_is_one(reader):
    """With DATABASE_REPLICA_URL set, the selector runs inside the pages' replica reads
    (flusso_site/routers.py), so the API and the page read the same copy."""
    from dashboard.selectors.verdicts import VerdictFigures
    from flusso_site import routers

    seen = []

    def selector(**kwargs):
        seen.append(("kpis", routers.read_database()))
        return Kpis(current=KpiValues(), previous=KpiValues())

    def verdicts(**kwargs):
        seen.append(("verdicts", routers.read_database()))
        return VerdictFigures(*([0, 0, None, None, None, 0, 0, 0, 0, []]))

    with (
        mock.patch.object(routers, "replica_configured", return_value=True),
        mock.patch("dashboard.apis.client_kpis", side_effect=selector),
        mock.patch("dashboard.apis.client_verdict_figures", side_effect=verdicts),
    ):
        assert get(reverse(STATS), reader).status_code == 200
    assert seen == [("kpis", routers.REPLICA), ("verdicts", routers.REPLICA)]


# A log ----------------------------------------------------------------------------------


def test_a_log_is_answered_as_stored_with_its_columns_and_no_row_id(client_a, reader):
    both = ApiKeyFactory(client=client_a, scope_read=True)
    secret = "sk-proj-" + "a1B2c3D4e5" * 4
    document = log_document(
        client_id="acme",
        error={"type": "ToolTimeout", "node": "react_agent", "message": "timed out"},
        trace={"observation": f"used the key {secret}"},
    )
    sent = HttpClient().post(
        reverse("collector:log-ingest"),
        document,
        content_type="application/json",
        headers={"Authorization": f"Bearer {both.raw_key}"},
    )
    assert sent.status_code == 201
    response = get(log_url(document["log_id"]), reader)
    assert response.status_code == 200, response.content
    body = response.json()
    stored = WorkflowLog.objects.get(log_id=document["log_id"])
    assert body["document"] == stored.document
    assert secret not in response.content.decode()  # scrubbed before it was stored
    assert body["log_id"] == document["log_id"] and body["client_id"] == "acme"
    assert (body["ticket_id"], body["status"]) == (stored.ticket_id, stored.status)
    assert (body["error_type"], body["error_node"]) == ("ToolTimeout", "react_agent")
    assert body["overall_confidence"] == stored.overall_confidence
    assert dt.datetime.fromisoformat(body["received_at"]) == stored.received_at
    assert dt.datetime.fromisoformat(body["timestamp"]) == stored.timestamp
    assert "id" not in body and str(stored.pk) not in body.values()


@pytest.mark.parametrize("log_id", ["not-a-uuid", "0" * 40, "%00", "1234"])
def test_a_log_id_that_is_not_a_uuid_is_a_404_not_a_500(reader, log_id):
    assert_error(HttpClient().get(f"/api/v1/logs/{log_id}", headers=_auth(reader)), 404)


def test_a_trailing_slash_reaches_the_same_answers(fixed, reader):
    log_id = fixed["L1"].log_id
    assert get(f"/api/v1/logs/{log_id}/", reader).json() == get(log_url(log_id), reader).json()
    slash = get("/api/v1/stats/", reader, CUSTOM_QUERY).json()
    assert slash == get(reverse(STATS), reader, CUSTOM_QUERY).json()


def _auth(key) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.raw_key}"}


# Scopes and isolation -------------------------------------------------------------------


def test_an_ingest_only_key_gets_403_on_the_read_api(client_a):
    ingest_only = ApiKeyFactory(client=client_a)
    log = WorkflowLogFactory(client=client_a)
    for url in (reverse(STATS), log_url(log.log_id)):
        error = assert_error(get(url, ingest_only), 403, "missing_scope")
        assert "'read'" in error["message"]


def test_the_read_api_needs_a_key(fixed):
    assert_error(get(reverse(STATS), None), 401)
    assert_error(get(log_url(fixed["L1"].log_id), None), 401)


def test_another_clients_log_is_a_404_like_a_log_nobody_sent(fixed, reader):
    """A log_id alone grants nothing, and the answer does not tell that it exists."""
    other = get(log_url(fixed["OTHER"].log_id), reader)
    nobody = get(log_url(uuid.uuid4()), reader)
    assert assert_error(other, 404, "not_found") == assert_error(nobody, 404, "not_found")
    assert get(log_url(fixed["L1"].log_id), reader).status_code == 200


def test_each_key_reads_only_its_own_clients_figures(fixed, client_b, reader):
    other_reader = ApiKeyFactory(client=client_b, scope_ingest=False, scope_read=True)
    mine = get(reverse(STATS), reader, CUSTOM_QUERY).json()
    theirs = get(reverse(STATS), other_reader, CUSTOM_QUERY).json()
    assert (mine["client_id"], mine["current"]["runs"]) == ("acme", 6)
    assert (theirs["client_id"], theirs["current"]["runs"]) == ("globex", 1)


def test_reads_are_throttled_per_key_like_ingestion(client_a, reader, settings):
    settings.INGEST_RATE_LIMIT = "2/minute"
    other = ApiKeyFactory(client=client_a, scope_ingest=False, scope_read=True)
    statuses = [get(reverse(STATS), reader).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert get(reverse(STATS), other).status_code == 200
    assert get(log_url(uuid.uuid4()), reader).status_code == 429


# The API docs ---------------------------------------------------------------------------


@pytest.fixture
def schema(db) -> dict:
    response = HttpClient().get(reverse("collector:schema") + "?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_read_api_is_documented_with_its_errors_and_examples(schema):
    stats = schema["paths"]["/api/v1/stats"]["get"]
    log = schema["paths"]["/api/v1/logs/{log_id}"]["get"]
    assert {p["name"] for p in stats["parameters"]} == set(DashboardFilterForm.base_fields)
    assert {"200", "400", "401", "403", "429"} <= set(stats["responses"])
    assert {"200", "401", "403", "404", "429"} <= set(log["responses"])
    for operation in (stats, log):
        examples = operation["responses"]["200"]["content"]["application/json"]["examples"]
        assert next(iter(examples.values()))["value"]["client_id"] == DEMO_CLIENT_SLUG
    figures = schema["components"]["schemas"]["KpiFigures"]["properties"]
    assert set(KPI_FIGURES) <= set(figures)


def test_either_key_header_authorizes_every_keyed_operation(schema):
    for path, operation in [("/api/v1/stats", "get"), ("/api/v1/logs", "post")]:
        security = schema["paths"][path][operation]["security"]
        assert security == [{"bearerAuth": []}, {"apiKeyHeader": []}]


def test_try_it_out_with_the_demo_key_stores_the_docs_example_then_answers_duplicate(schema):
    """The docs' example log names the demo client, so the demo key may send it (before,
    its client_abc answered 403 client_mismatch); its fixed log_id makes a second try a
    duplicate, which the demo key (both scopes) can then read back."""
    result = demo_seed(scale=0.05)
    body = schema["paths"]["/api/v1/logs"]["post"]["requestBody"]["content"]["application/json"]
    example = next(iter(body["examples"].values()))["value"]
    assert example["client_id"] == result.client_slug
    headers = {"Authorization": f"Bearer {result.api_key}"}

    def send():
        return HttpClient().post(
            reverse("collector:log-ingest"),
            example,
            content_type="application/json",
            headers=headers,
        )

    first, second = send(), send()
    assert (first.status_code, first.json()["status"]) == (201, "created")
    assert (second.status_code, second.json()["status"]) == (200, "duplicate")
    read = HttpClient().get(log_url(example["log_id"]), headers=headers)
    assert read.status_code == 200 and read.json()["ticket_id"] == example["ticket_id"]


# Verdicts -------------------------------------------------------------------------------


def test_stats_carry_the_verdict_figures_of_the_dashboards_own_selector(
    fixed, client_a, reader, user_a
):
    from dashboard.reviews.services import verdict_record
    from dashboard.selectors.verdicts import client_verdict_figures

    in_window = WorkflowLog.objects.for_client(client_a).filter(
        timestamp__gte=WINDOW_START, timestamp__lt=WINDOW_END
    )
    kinds = ["correct", "incorrect", "escalated_needlessly", "correct"]
    for log, kind in zip(in_window.order_by("timestamp"), kinds, strict=False):
        verdict_record(client=client_a, log_id=log.log_id, user=user_a, kind=kind)
    body = get(reverse(STATS), reader, CUSTOM_QUERY).json()
    figures = client_verdict_figures(
        client=client_a, filters=DashboardFilterForm(CUSTOM_QUERY).filters(now=timezone.now())
    )
    verdicts = body["verdicts"]
    assert verdicts["reviewed"] == figures.reviewed == min(4, in_window.count())
    assert verdicts["judged_correct"] == figures.judged_correct == kinds.count("correct")
    assert verdicts["judged_correct_share"] == figures.share
    assert (verdicts["judged_correct_low"], verdicts["judged_correct_high"]) == (
        figures.low,
        figures.high,
    )
    assert verdicts["enough_reviews"] is figures.enough
    assert verdicts["successes_judged_incorrect"] == figures.successes_incorrect
    assert verdicts["needless_escalations"] == figures.needless_escalations


def test_stats_without_verdicts_say_none_were_reviewed(reader):
    verdicts = get(reverse(STATS), reader, {"period": "7d"}).json()["verdicts"]
    assert verdicts["reviewed"] == 0 and verdicts["judged_correct_share"] is None
    assert verdicts["enough_reviews"] is False


def test_a_log_carries_its_current_verdict_scrubbed_and_null_without_one(client_a, reader, user_a):
    from dashboard.reviews.services import verdict_record

    judged, unjudged = WorkflowLogFactory(client=client_a), WorkflowLogFactory(client=client_a)
    verdict_record(
        client=client_a,
        log_id=judged.log_id,
        user=user_a,
        kind="incorrect",
        note="customer wrote from maria@example.com",
        better_answer="Returns within 30 days.",
    )
    body = get(log_url(judged.log_id), reader).json()
    verdict = body["verdict"]
    assert verdict["kind"] == "incorrect"
    assert "maria@example.com" not in verdict["note"] and "[email]" in verdict["note"]
    assert verdict["better_answer"] == "Returns within 30 days."
    # The author as the page and the exports name them: never an e-mail address.
    assert verdict["author"] == f"user {user_a.pk}" and "ann@" not in str(body["verdict"])
    assert dt.datetime.fromisoformat(verdict["updated_at"]) <= timezone.now()
    assert get(log_url(unjudged.log_id), reader).json()["verdict"] is None
