"""The log viewer's match count, menus, date pickers, sortable headers and paging links."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from collector.models import WorkflowLog
from collector.selectors import log_get
from dashboard import views
from dashboard.selectors import LogFilters
from dashboard.selectors import logs as log_selectors
from dashboard.selectors.logs import LogCount, log_count, log_filter_options, log_neighbours
from dashboard.tests.fixtures import at, log, seed_fixed_logs

pytestmark = pytest.mark.django_db


@pytest.fixture
def fixed(client_a, client_b):
    logs = seed_fixed_logs(client_a, client_b)
    # Values only the other client has: never in client_a's menus.
    log(
        client_b,
        at(2026, 11, 4),
        environment="globex-env",
        workflow_version="g9",
        status="ERROR",
        error_type="GlobexError",
        error_node="globex_node",
    )
    return logs


def _orm_count(client, **lookups) -> int:
    """An independent recount of the raw rows."""
    return WorkflowLog.objects.for_client(client).filter(Q(**lookups)).count()


@pytest.mark.parametrize(
    ("filters", "lookups", "expected"),
    [
        (LogFilters(), {}, 10),
        (
            LogFilters(start=at(2026, 11, 1), end=at(2026, 11, 11)),
            {"timestamp__gte": at(2026, 11, 1), "timestamp__lt": at(2026, 11, 11)},
            6,
        ),
        (
            LogFilters(start=at(2026, 11, 1), end=at(2026, 11, 11), status="SUCCESS"),
            {
                "timestamp__gte": at(2026, 11, 1),
                "timestamp__lt": at(2026, 11, 11),
                "status": "SUCCESS",
            },
            3,
        ),
        (LogFilters(status="FAILED"), {"status": "FAILED"}, 2),
        (LogFilters(environment="staging"), {"environment": "staging"}, 1),
        (
            LogFilters(version="v1.0", environment="production"),
            {"workflow_version": "v1.0", "environment": "production"},
            9,
        ),
        # Dates inside hours: the rollups and the raw logs of the partial hours.
        (
            LogFilters(
                start=at(2026, 11, 5, 8, 45),
                end=dt.datetime(2026, 11, 7, 23, 59, 59, 500000, tzinfo=dt.UTC),
            ),
            {
                "timestamp__gte": at(2026, 11, 5, 8, 45),
                "timestamp__lt": dt.datetime(2026, 11, 7, 23, 59, 59, 500000, tzinfo=dt.UTC),
            },
            1,
        ),
        (LogFilters(start=at(2026, 11, 5), end=at(2026, 11, 5)), {"pk__in": []}, 0),
    ],
)
def test_count_from_the_read_model_equals_a_recount(client_a, fixed, filters, lookups, expected):
    assert _orm_count(client_a, **lookups) == expected
    assert log_count(client=client_a, filters=filters) == LogCount(expected, True)


def test_count_from_the_read_model_reads_no_log_row_for_whole_days(client_a, fixed):
    filters = LogFilters(start=at(2026, 11, 1), end=at(2026, 11, 11), status="SUCCESS")
    with CaptureQueriesContext(connection) as queries:
        log_count(client=client_a, filters=filters)
    assert not any("collector_workflowlog" in q["sql"] for q in queries.captured_queries)


def test_count_of_other_filters_is_exact_up_to_the_limit_then_says_more(
    client_a, fixed, monkeypatch
):
    monkeypatch.setattr(log_selectors, "COUNT_LIMIT", 3)
    assert log_count(client=client_a, filters=LogFilters(confidence_min=0.85)) == LogCount(1, True)
    assert log_count(client=client_a, filters=LogFilters(error_type="ToolTimeout")) == LogCount(
        2, True
    )
    assert log_count(client=client_a, filters=LogFilters(confidence_min=0.0)) == LogCount(3, False)
    assert log_count(client=client_a, filters=LogFilters(ticket_id="T3")) == LogCount(2, True)


def test_menus_list_the_values_that_exist_for_the_client(client_a, fixed):
    options = log_filter_options(client=client_a, filters=LogFilters())
    assert options.environments == ["production", "staging"]
    assert options.versions == ["v1.0", "v2.0"]
    assert options.error_types == ["RateLimitError", "ToolTimeout"]
    assert options.error_nodes == ["planner", "react_agent"]


def test_menus_follow_the_dates_and_environment(client_a, fixed):
    options = log_filter_options(
        client=client_a, filters=LogFilters(start=at(2026, 11, 6), end=at(2026, 11, 11))
    )
    assert options.environments == ["production"]
    assert options.error_types == ["RateLimitError"]
    staging = log_filter_options(client=client_a, filters=LogFilters(environment="staging"))
    assert staging.error_types == []
    # The environment menu itself still offers every environment.
    assert staging.environments == ["production", "staging"]


def _logs(http, client, **query):
    return http.get(reverse("dashboard:logs", args=[client.slug]), query)


def test_page_says_how_many_runs_match(http_a, client_a, fixed, monkeypatch):
    body = _logs(http_a, client_a, start="2026-11-01", end="2026-11-10").content.decode()
    assert "6 runs match" in body
    body = _logs(http_a, client_a, ticket="T1").content.decode()
    assert "1 run matches" in body
    monkeypatch.setattr(log_selectors, "COUNT_LIMIT", 3)
    monkeypatch.setattr(views, "COUNT_LIMIT", 3)
    body = _logs(http_a, client_a, confidence_min="0").content.decode()
    assert "More than 3 runs match" in body


def test_page_menus_offer_existing_values_only(http_a, client_a, fixed):
    body = _logs(http_a, client_a).content.decode()
    assert '<option value="staging"' in body
    assert '<option value="react_agent"' in body
    assert "globex" not in body.lower()


def test_page_keeps_a_chosen_value_that_has_no_runs(http_a, client_a, fixed):
    body = _logs(http_a, client_a, environment="nowhere").content.decode()
    assert '<option value="nowhere" selected>' in body


def test_dates_use_date_pickers_unless_they_hold_a_time(http_a, client_a, fixed):
    body = _logs(http_a, client_a, start="2026-11-01").content.decode()
    assert 'type="date" name="start" value="2026-11-01"' in body
    assert 'type="date" name="end" value=""' in body
    body = _logs(http_a, client_a, start="2026-11-01T09:30:00Z").content.decode()
    assert 'type="text" name="start" value="2026-11-01T09:30:00Z"' in body


def test_sortable_headers_say_how_they_sort(http_a, client_a, fixed):
    body = _logs(http_a, client_a).content.decode()
    assert 'class="sortable" aria-sort="descending"' in body
    assert body.count('aria-sort="none"') == 4
    body = _logs(http_a, client_a, sort="confidence").content.decode()
    assert 'class="num sortable" aria-sort="ascending"' in body


@pytest.mark.parametrize(
    ("sort", "labels"),
    [
        ("-time", ("Newer", "Older")),
        ("time", ("Older", "Newer")),
        ("-confidence", ("Previous", "Next")),
        ("duration", ("Previous", "Next")),
    ],
)
def test_paging_links_say_next_and_previous_unless_sorted_by_time(
    http_a, client_a, fixed, monkeypatch, sort, labels
):
    monkeypatch.setattr(views, "LOGS_PER_PAGE", 2)
    first = _logs(http_a, client_a, sort=sort)
    assert f"{labels[1]} →" in first.content.decode()
    cursor = first.context["page"].next_cursor
    second = _logs(http_a, client_a, sort=sort, cursor=cursor).content.decode()
    assert f"← {labels[0]}" in second
    assert f"{labels[1]} →" in second


# Previous / next run on the detail page ----------------------------------------------


def _walk(client, filters, first):
    """The log_ids met following "next" from ``first``, then back with "previous"."""
    forward, current = [first.log_id], first
    while (found := log_neighbours(client=client, filters=filters, log=current)).next:
        forward.append(found.next)
        current = log_get(client=client, log_id=found.next)
    backward = [current.log_id]
    while (found := log_neighbours(client=client, filters=filters, log=current)).previous:
        backward.append(found.previous)
        current = log_get(client=client, log_id=found.previous)
    return forward, backward


@pytest.mark.parametrize(
    "filters",
    [
        LogFilters(),
        LogFilters(sort="time"),
        LogFilters(sort="-confidence"),
        LogFilters(sort="risk"),
        LogFilters(status="SUCCESS", sort="-iterations"),
        LogFilters(start=at(2026, 11, 1), end=at(2026, 11, 11), sort="duration"),
    ],
    ids=lambda f: f.sort + (f"-{f.status}" if f.status else "") + ("-dated" if f.start else ""),
)
def test_previous_and_next_walk_the_list_in_its_order(client_a, fixed, filters):
    listed = [row.log_id for row in log_selectors.log_page(client=client_a, filters=filters).rows]
    first = WorkflowLog.objects.get(log_id=listed[0])
    forward, backward = _walk(client_a, filters, first)
    assert forward == listed
    assert backward == listed[::-1]


def test_neighbours_are_one_query_each(client_a, fixed, django_assert_num_queries):
    with django_assert_num_queries(2):
        log_neighbours(client=client_a, filters=LogFilters(sort="-confidence"), log=fixed["L2"])


def test_detail_page_links_carry_the_filter(http_a, client_a, fixed):
    query = "status=SUCCESS&sort=time"
    url = reverse("dashboard:log", args=[client_a.slug, fixed["L10"].log_id]) + "?" + query
    response = http_a.get(url)
    assert response.status_code == 200
    # SUCCESS by time, ascending: L9, L7, L1, L10, L2, L6.
    assert response.context["previous_url"] == (
        reverse("dashboard:log", args=[client_a.slug, fixed["L1"].log_id]) + "?" + query
    )
    assert response.context["next_url"] == (
        reverse("dashboard:log", args=[client_a.slug, fixed["L2"].log_id]) + "?" + query
    )
    assert response.context["list_url"].endswith("/logs/?" + query)
    body = response.content.decode()
    assert "Previous run" in body
    assert "Next run" in body


def test_the_list_links_to_details_with_its_filter(http_a, client_a, fixed):
    body = _logs(http_a, client_a, status="FAILED", cursor="").content.decode()
    assert f"/logs/{fixed['L3'].log_id}/?status=FAILED" in body


def test_detail_page_with_invalid_filters_shows_the_run_without_neighbours(http_a, client_a, fixed):
    url = reverse("dashboard:log", args=[client_a.slug, fixed["L2"].log_id])
    response = http_a.get(url + "?confidence_min=9")
    assert response.status_code == 200
    assert "previous_url" not in response.context
    assert response.context["list_url"].endswith("/logs/")


def test_neighbours_never_cross_clients(client_a, client_b, fixed):
    other = fixed["OTHER"]
    found = log_neighbours(client=client_a, filters=LogFilters(), log=fixed["L3"])
    assert other.log_id not in (found.previous, found.next)
    ids = set(WorkflowLog.objects.for_client(client_a).values_list("log_id", flat=True))
    forward, _ = _walk(client_a, LogFilters(), fixed["L6"])
    assert set(forward) == ids
