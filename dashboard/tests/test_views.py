"""The pages: numbers rendered as computed by hand, filters, empty states and the trace."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.tests.factories import MembershipFactory, UserFactory
from dashboard.tests.fixtures import CUSTOM_QUERY, at, log, seed_fixed_logs


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element {testid}"
    return re.sub(r"\s+", " ", match.group(1)).strip()


@pytest.fixture
def fixed(client_a, client_b):
    return seed_fixed_logs(client_a, client_b)


def dashboard_url(client) -> str:
    return reverse("dashboard:client", args=[client.slug])


# Client dashboard -----------------------------------------------------------------------


def test_kpi_cards_show_the_numbers_of_the_custom_range(http_a, client_a, fixed):
    response = http_a.get(dashboard_url(client_a), CUSTOM_QUERY)
    html = response.content.decode()
    assert response.status_code == 200
    assert text_of(html, "kpi-runs") == "6"
    assert text_of(html, "kpi-success_rate") == "50.0%"
    assert text_of(html, "kpi-avg_confidence") == "0.58"
    assert text_of(html, "kpi-avg_hallucination_risk") == "0.34"
    # Percentiles: two significant digits of values read within 2 % (3.5 s and 8.75 s).
    assert text_of(html, "kpi-median_execution_seconds") == "3.5 s"
    assert text_of(html, "kpi-p95_execution_seconds") in ("8.7 s", "8.8 s")
    assert "within 2%, from a histogram" in html
    assert text_of(html, "kpi-avg_react_iterations") == "3.0"
    # Against the previous window: 2 runs -> 6 (+200%), 50% -> 50% (±0.0 pts).
    assert text_of(html, "kpi-change-runs") == "+200%"
    assert text_of(html, "kpi-change-success_rate") == "±0.0 pts"
    assert text_of(html, "kpi-change-avg_confidence") == "+0.18"
    assert text_of(html, "window") == "2026-11-01 00:00 \u2013 2026-11-11 00:00 UTC"


def test_environment_filter_is_applied_and_kept_in_the_form(http_a, client_a, fixed):
    response = http_a.get(dashboard_url(client_a), {**CUSTOM_QUERY, "environment": "production"})
    html = response.content.decode()
    assert text_of(html, "kpi-runs") == "5"
    assert text_of(html, "kpi-success_rate") == "40.0%"
    assert '<option value="production" selected>' in html


def test_filters_without_runs_in_the_period_stay_chosen_in_the_form(http_a, client_a, fixed):
    """A shared link's environment and version must survive the next Apply, even when the
    period holds no such runs (the menus list only what the period holds)."""
    query = {**CUSTOM_QUERY, "environment": "qa", "version": "v9"}
    html = http_a.get(dashboard_url(client_a), query).content.decode()
    assert text_of(html, "kpi-runs") == "0"
    assert '<option value="qa" selected>' in html
    assert '<option value="v9" selected>' in html


def test_the_24h_period_includes_a_log_one_second_inside_and_not_one_outside(http_a, client_a):
    now = at(2026, 11, 20, 12)
    log(client_a, now - dt.timedelta(hours=24) + dt.timedelta(seconds=1))
    log(client_a, now - dt.timedelta(seconds=1), status="FAILED")
    log(client_a, now - dt.timedelta(hours=24, seconds=1))  # previous period
    log(client_a, now + dt.timedelta(seconds=1))  # in the future: not yet in the window
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_a.get(dashboard_url(client_a), {"period": "24h"}).content.decode()
    assert text_of(html, "kpi-runs") == "2"
    assert text_of(html, "kpi-success_rate") == "50.0%"
    assert text_of(html, "kpi-change-runs") == "+100%"


def test_a_custom_range_is_read_in_the_current_time_zone(http_a, client_a, settings):
    settings.TIME_ZONE = "Europe/Paris"
    # Nov 1 starts at 2026-10-31T23:00Z in Paris; a log at 23:00:00Z is inside, one at
    # 22:59:59Z outside; Nov 10 ends at 2026-11-10T23:00Z.
    log(client_a, at(2026, 10, 31, 23))
    log(client_a, at(2026, 10, 31, 22, 59, 59))
    log(client_a, at(2026, 11, 10, 22, 59, 59))
    log(client_a, at(2026, 11, 10, 23))
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    assert text_of(html, "kpi-runs") == "2"


def test_the_default_period_is_30_days(http_a, client_a):
    now = at(2026, 11, 20, 12)
    log(client_a, now - dt.timedelta(days=30) + dt.timedelta(seconds=1))
    log(client_a, now - dt.timedelta(days=30, seconds=1))
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_a.get(dashboard_url(client_a)).content.decode()
    assert text_of(html, "kpi-runs") == "1"
    assert 'value="30d" checked' in html


@pytest.mark.parametrize(
    "query",
    [
        {"period": "year"},
        {"period": "custom", "start": "2026-11-10", "end": "2026-11-01"},
        {"period": "custom", "start": "yesterday", "end": "2026-11-01"},
        {"period": "custom"},
    ],
)
def test_bad_dashboard_filters_say_so_and_fall_back_to_30_days(http_a, client_a, fixed, query):
    response = http_a.get(dashboard_url(client_a), query)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="filter-errors"' in html
    assert "Showing the last 30 days instead." in html


def test_the_dashboard_renders_every_chart_and_the_error_tables(http_a, client_a, fixed):
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    # 5 charts + errors by type and by node, each a JSON block static/js/charts.js draws.
    assert html.count("data-plotly-figure=") == 7
    assert "/static/vendor/plotly/plotly.min.js" in html
    assert "cdn" not in html.lower()
    assert "<code>ToolTimeout</code>" in html
    # The error row links to the log viewer filtered on the same window and error.
    assert (
        "/dashboard/acme/logs/?start=2026-11-01T00%3A00%3A00Z&amp;end=2026-11-11T00%3A00%3A00Z"
        "&amp;error_type=ToolTimeout"
    ) in html


def test_a_client_without_logs_sees_how_to_connect(http_a, client_a):
    response = http_a.get(dashboard_url(client_a))
    html = response.content.decode()
    assert 'data-testid="empty-state"' in html
    assert "CLIENT_ID=acme" in html
    assert "LOG_COLLECTOR_URL=http://testserver/api/v1/logs" in html
    assert "LOG_COLLECTOR_API_KEY=" in html
    assert "build_workflow_log" in html


def test_error_labels_from_clients_are_escaped(http_a, client_a):
    log(client_a, at(2026, 11, 2), status="FAILED", error_type="<script>alert(1)</script>")
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# Home -----------------------------------------------------------------------------------


def test_a_client_user_with_one_client_goes_straight_to_its_dashboard(http_a, client_a):
    response = http_a.get(reverse("dashboard:home"))
    assert response.status_code == 302
    assert response["Location"] == dashboard_url(client_a)


def test_a_user_in_several_clients_chooses_and_gets_a_switcher(client_a, client_b):
    user = UserFactory()
    MembershipFactory(user=user, client=client_a)
    MembershipFactory(user=user, client=client_b)
    ClientFactory(slug="hidden", name="Hidden Corp")
    http = HttpClient()
    http.force_login(user)
    html = http.get(reverse("dashboard:home")).content.decode()
    assert "Acme Plumbing" in html
    assert "Globex Outdoor" in html
    assert "Hidden Corp" not in html
    page = http.get(dashboard_url(client_a)).content.decode()
    assert 'id="client-switcher"' in page
    assert f'value="{dashboard_url(client_b)}"' in page
    assert "Hidden Corp" not in page


def test_a_user_of_one_client_has_no_switcher(http_a, client_a):
    assert 'id="client-switcher"' not in http_a.get(dashboard_url(client_a)).content.decode()


def overview_cells(html: str, slug: str) -> dict[str, str]:
    row = re.search(rf'<tr data-client="{slug}".*?</tr>', html, re.S)
    assert row
    return dict(re.findall(r'data-col="(\w+)">(.*?)</td>', row.group(0), re.S))


def test_the_owner_overview_shows_each_client_and_totals(http_owner, client_a, client_b):
    now = at(2026, 11, 20, 12)
    log(client_a, now - dt.timedelta(hours=1))
    log(client_a, now - dt.timedelta(hours=2), status="FAILED", error_type="Boom")
    log(client_a, now - dt.timedelta(days=3))
    log(client_b, now - dt.timedelta(days=10), overall_confidence=0.5)
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_owner.get(reverse("dashboard:home")).content.decode()
    a = overview_cells(html, "acme")
    assert (a["runs_24h"], a["success_rate_24h"], a["runs_7d"], a["runs_30d"]) == (
        "2",
        "50.0%",
        "3",
        "3",
    )
    assert a["errors_30d"] == "1"
    b = overview_cells(html, "globex")
    assert (b["runs_24h"], b["success_rate_24h"], b["runs_30d"]) == ("0", "—", "1")
    assert b["avg_confidence_30d"] == "0.50"
    totals = re.search(r'data-testid="totals">.*?</tr>', html, re.S).group(0)
    assert dict(re.findall(r'data-col="(\w+)">(.*?)</td>', totals))["runs_30d"] == "4"
    assert dict(re.findall(r'data-col="(\w+)">(.*?)</td>', totals))["success_rate_30d"] == "75.0%"


def test_the_overview_sorts_by_a_column(http_owner, client_a, client_b):
    WorkflowLogFactory(client=client_b)
    html = http_owner.get(reverse("dashboard:home"), {"sort": "-runs_30d"}).content.decode()
    assert html.index('data-client="globex"') < html.index('data-client="acme"')
    html = http_owner.get(reverse("dashboard:home"), {"sort": "name"}).content.decode()
    assert html.index('data-client="acme"') < html.index('data-client="globex"')
    # An unknown sort falls back to the name.
    assert http_owner.get(reverse("dashboard:home"), {"sort": "evil"}).status_code == 200


def test_the_overview_total_confidence_weighs_each_client_by_its_runs(
    http_owner, client_a, client_b
):
    now = at(2026, 11, 20, 12)
    for hours in (1, 2, 3):
        log(client_a, now - dt.timedelta(hours=hours), overall_confidence=0.8)
    log(client_b, now - dt.timedelta(hours=1), overall_confidence=0.2)
    # A run without a confidence weighs nothing.
    log(client_b, now - dt.timedelta(hours=2), overall_confidence=None, status="ERROR")
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_owner.get(reverse("dashboard:home")).content.decode()
    totals = re.search(r'data-testid="totals">.*?</tr>', html, re.S).group(0)
    # (3 * 0.8 + 0.2) / 4, not the mean of the two clients' averages (0.50).
    assert dict(re.findall(r'data-col="(\w+)">(.*?)</td>', totals))["avg_confidence_30d"] == "0.65"
    assert "Runs with an error 30 d" in html
    assert ">Errors 30 d" not in html


def test_the_overview_warns_about_a_silent_client(http_owner, client_a):
    now = at(2026, 11, 20, 12)
    for i in range(20):
        log(client_a, now - dt.timedelta(days=3, hours=i))
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_owner.get(reverse("dashboard:home")).content.decode()
    assert 'data-testid="silent-warning"' in html
    assert "no logs for 3 d" in html


def test_client_users_never_see_the_overview(http_a, client_a, client_b):
    WorkflowLogFactory(client=client_b)
    response = http_a.get(reverse("dashboard:home"), follow=True)
    assert "Globex" not in response.content.decode()


# Log viewer -------------------------------------------------------------------------------


def logs_url(client) -> str:
    return reverse("dashboard:logs", args=[client.slug])


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-log="([0-9a-f-]+)"', html)


def test_the_log_viewer_filters_by_the_query_string(http_a, client_a, fixed):
    html = http_a.get(logs_url(client_a), {"status": "FAILED"}).content.decode()
    assert rows_of(html) == [str(fixed["L3"].log_id), str(fixed["L8"].log_id)]
    html = http_a.get(
        logs_url(client_a), {"ticket": "T3", "start": "2026-11-01", "end": "2026-11-10"}
    ).content.decode()
    assert rows_of(html) == [str(fixed["L4"].log_id), str(fixed["L3"].log_id)]


def test_an_end_date_includes_its_whole_day(http_a, client_a, fixed):
    html = http_a.get(logs_url(client_a), {"start": "2026-11-10", "end": "2026-11-10"})
    assert rows_of(html.content.decode()) == [str(fixed["L5"].log_id)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"confidence_min": "abc"}, "Enter a number."),
        ({"confidence_min": "2"}, "less than or equal to 1"),
        ({"confidence_min": "0.9", "confidence_max": "0.1"}, "below the minimum"),
        ({"status": "WHATEVER"}, "Select a valid choice"),
        ({"start": "31/12/2026"}, "YYYY-MM-DD"),
        ({"start": "2026-11-05", "end": "2026-11-01"}, "not after the start"),
        ({"sort": "document"}, "Select a valid choice"),
        ({"cursor": "garbage"}, "page link is not valid"),
    ],
)
def test_bad_log_filters_answer_400_with_a_clear_message(http_a, client_a, fixed, query, message):
    response = http_a.get(logs_url(client_a), query)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="filter-error"' in html
    assert message in html


def test_the_log_viewer_pages_with_a_cursor_in_the_query_string(http_a, client_a):
    for hour in range(60):
        log(client_a, at(2026, 11, 1) + dt.timedelta(minutes=hour))
    html = http_a.get(logs_url(client_a), {"status": "SUCCESS"}).content.decode()
    assert len(rows_of(html)) == 50
    next_link = re.search(r'href="\?([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "status=SUCCESS" in next_link
    second = http_a.get(logs_url(client_a) + "?" + next_link).content.decode()
    assert len(rows_of(second)) == 10
    assert not set(rows_of(html)) & set(rows_of(second))
    assert 'rel="next"' not in second
    assert 'rel="prev"' in second


def test_the_log_viewer_sort_links_flip_the_direction(http_a, client_a, fixed):
    html = http_a.get(logs_url(client_a), {"sort": "-confidence"}).content.decode()
    assert "?sort=confidence" in html
    confidences = [fixed[n].overall_confidence or -1 for n in fixed if n != "OTHER"]
    assert len(rows_of(html)) == len(confidences)


# Log detail -------------------------------------------------------------------------------


def test_the_detail_page_shows_the_trace_sections(http_a, client_a):
    document = {
        "trace": {
            "ticket": {"id": "48213", "requester_email": "sha256:0a9b8c7d6e5f4a3b"},
            "planning": {"intent": "replacement_part_request", "steps": ["identify", "reply"]},
            "react": {
                "iterations": [
                    {"iteration": 1, "thought": "Identify the faucet.", "action": "vision"},
                    {"iteration": 2, "thought": "x" * 400, "action": "final_answer"},
                ]
            },
            "retrieval": {
                "text_results": [{"doc_id": "KB-204", "score": 0.87}],
                "vision_results": [{"product_id": "AUR-X2-CHR", "score": 0.91}],
            },
            "output": {"action": "reply", "text": "Your faucet is the Aurora X2."},
        }
    }
    entry = WorkflowLogFactory(client=client_a, ticket_id="48213", document=document)
    other = WorkflowLogFactory(client=client_a, ticket_id="48213")
    WorkflowLogFactory(ticket_id="48213")  # another client's run of a same-named ticket
    html = http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id])).content
    html = html.decode()
    assert '<code class="hash" title="hashed">sha256:0a9b8c7d6e5f4a3b</code>' in html
    assert "replacement_part_request" in html
    assert '<span class="step-no">1</span>' in html
    assert '<span class="step-no">2</span>' in html
    assert "<details><summary>" + "x" * 159 + "\u2026</summary>" in html
    assert "KB-204" in html and "AUR-X2-CHR" in html
    assert "Your faucet is the Aurora X2." in html
    other_runs = re.search(r'data-testid="other-runs">(.*?)</ul>', html, re.S).group(1)
    assert other_runs.count("<li>") == 1
    assert str(other.log_id) in other_runs
    assert 'data-testid="raw-json"' in html


def test_the_detail_page_survives_a_document_of_the_wrong_shape(http_a, client_a):
    entry = WorkflowLogFactory(
        client=client_a,
        document={"trace": {"react": {"iterations": ["oops", None]}, "ticket": [1]}},
    )
    response = http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id]))
    assert response.status_code == 200


def test_the_detail_page_escapes_what_the_document_holds(http_a, client_a):
    entry = WorkflowLogFactory(
        client=client_a,
        error_message="<img src=x onerror=alert(1)>",
        error_type="X",
        document={"trace": {"output": {"text": "<script>alert(1)</script>"}}},
    )
    html = http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id])).content
    assert b"<script>alert(1)" not in html
    assert b"<img src=x" not in html


def test_the_raw_json_downloads_as_an_attachment(http_a, client_a):
    entry = WorkflowLogFactory(client=client_a)
    response = http_a.get(reverse("dashboard:log_raw", args=[client_a.slug, entry.log_id]))
    assert response["Content-Disposition"] == f'attachment; filename="{entry.log_id}.json"'
    assert response.json() == entry.document


def test_the_dashboard_query_count_does_not_grow_with_the_data(
    http_a, client_a, django_assert_max_num_queries
):
    """A few grouped queries per page, whatever the number of logs, days or error types."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    log(client_a, at(2026, 11, 2), status="FAILED", error_type="A", error_node="n1")
    # A client that normally sends logs from the start, so the silence check reads its
    # 30-day total in both counts (a client with fewer logs ever is never "silent").
    for hour in range(5):
        log(client_a, at(2026, 11, 1, hour))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert http_a.get(dashboard_url(client_a), CUSTOM_QUERY).status_code == 200
        return len(queries)

    small = count()
    for day in range(1, 11):
        for kind in ("B", "C", "D"):
            log(client_a, at(2026, 11, day, 3), status="ERROR", error_type=kind, error_node=kind)
        log(client_a, at(2026, 11, day, 4), environment=f"env{day}", workflow_version=f"v{day}")
    assert count() == small
    # 16 before the alerts: + the nav's open-alert count, the markers' alerts and the
    # versions' first hours (two rollup reads); + the silence check (the newest hours and
    # the 30-day total) and the banner's unresolved alerts; + the verdict figures (one read
    # of the verdict counts, its sub-hour edges from the verdicts: none on whole days).
    with django_assert_max_num_queries(28):
        http_a.get(dashboard_url(client_a), CUSTOM_QUERY)


def test_times_are_labelled_with_the_time_zone_they_are_shown_in(
    http_a, http_owner, client_a, settings
):
    """Pages format times in the current time zone; a fixed "UTC" label was wrong elsewhere."""
    settings.TIME_ZONE = "Europe/Paris"
    entry = log(client_a, at(2026, 11, 5, 8, 30))
    pages = {
        "detail": http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id])),
        "logs": http_a.get(logs_url(client_a)),
        "dashboard": http_a.get(dashboard_url(client_a), CUSTOM_QUERY),
        "overview": http_owner.get(reverse("dashboard:home")),
    }
    for name, response in pages.items():
        html = response.content.decode()
        assert "UTC" not in html, name
        assert "Europe/Paris" in html, name
    assert "2026-11-05 09:30:00 Europe/Paris" in pages["detail"].content.decode()
    assert "2026-11-01 00:00 \u2013 2026-11-11 00:00 Europe/Paris" in text_of(
        pages["dashboard"].content.decode(), "window"
    )


def test_the_volume_chart_title_says_hourly_for_short_windows(http_a, client_a, fixed):
    """Windows up to two days are charted per hour: the title must not say "Daily"."""
    day = http_a.get(dashboard_url(client_a), {"period": "24h"}).content.decode()
    assert "Hourly volume by status" in day and "Daily volume" not in day
    ten_days = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    assert "Daily volume by status" in ten_days


# KPI cards -------------------------------------------------------------------------------


def test_a_period_without_a_previous_one_says_so_once(http_a, client_a):
    log(client_a, at(2026, 11, 2))
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    assert "No runs in the previous period" in html
    assert html.count("No runs in the previous period") == 1
    assert "vs previous" not in html
    assert "no previous" not in html
    assert 'data-testid="kpi-change-runs"' not in html


def test_a_metric_missing_from_the_previous_period_says_so_on_its_card(http_a, client_a):
    log(client_a, at(2026, 11, 2), overall_confidence=0.8)
    log(client_a, at(2026, 10, 25), overall_confidence=None)
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    assert "No runs in the previous period" not in html
    assert text_of(html, "kpi-change-avg_confidence") == "no previous value"
    assert text_of(html, "kpi-change-runs") == "±0%"


def test_the_escalation_rate_card_counts_escalated_runs_among_all_runs(http_a, client_a):
    for status in ("ESCALATED", "SUCCESS", "SUCCESS", "FAILED"):
        log(client_a, at(2026, 11, 2), status=status)
    log(client_a, at(2026, 10, 25), status="ESCALATED")
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    assert text_of(html, "kpi-escalation_rate") == "25.0%"
    # 100% -> 25%: a change, but not coloured good or bad.
    assert text_of(html, "kpi-change-escalation_rate") == "\u221275.0 pts"
    assert re.search(
        r'class="kpi-change "[^>]*><span data-testid="kpi-change-escalation_rate"', html
    )
    # The first card says what it counts.
    assert '<div class="kpi-label">Runs</div>' in html
    assert "Tickets processed" not in html


# Silence and alerts on the client's own dashboard ---------------------------------------


def test_the_client_dashboard_warns_when_its_client_went_silent(http_a, client_a, client_b):
    now = at(2026, 11, 20, 12)
    for i in range(20):
        log(client_a, now - dt.timedelta(days=3, hours=i))
    # Another client's liveliness changes nothing here.
    for i in range(20):
        log(client_b, now - dt.timedelta(minutes=10 + i))
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_a.get(dashboard_url(client_a)).content.decode()
    warning = html[html.index('data-testid="silent-warning"') :]
    assert "no logs from Acme Plumbing for 3 d" in warning[: warning.index("</div>")]


def test_the_client_dashboard_does_not_warn_a_client_that_sends(http_a, client_a):
    now = at(2026, 11, 20, 12)
    for i in range(20):
        log(client_a, now - dt.timedelta(minutes=10, hours=i))
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_a.get(dashboard_url(client_a)).content.decode()
    assert 'data-testid="silent-warning"' not in html


def test_the_client_dashboard_names_its_unresolved_alerts_only(http_a, client_a, client_b):
    from dashboard.monitors.models import AlertState
    from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory

    log(client_a, at(2026, 11, 2))
    mine = AlertFactory(monitor=MonitorFactory(client=client_a))
    AlertFactory(monitor=MonitorFactory(client=client_a), state=AlertState.RESOLVED)
    theirs = AlertFactory(monitor=MonitorFactory(client=client_b))
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    banner = html[html.index('data-testid="dashboard-alerts"') :]
    banner = banner[: banner.index("</div>")]
    assert "1 unresolved alert</a>" in banner
    assert f"#alert-{mine.pk}" in banner
    assert f"#alert-{theirs.pk}" not in html


def test_the_client_dashboard_has_no_alert_banner_without_unresolved_alerts(http_a, client_a):
    log(client_a, at(2026, 11, 2))
    html = http_a.get(dashboard_url(client_a), CUSTOM_QUERY).content.decode()
    assert 'data-testid="dashboard-alerts"' not in html


def test_the_detail_page_shows_the_subject_tags_and_attachments(http_a, client_a):
    document = {
        "trace": {
            "ticket": {
                "id": "48213",
                "subject": "Kitchen tap <b>drips</b>",
                "tags": ["faucet", "warranty"],
                "attachment_count": 1,
                "attachments": [{"content_type": "image/jpeg", "size_bytes": 2048}],
            }
        }
    }
    entry = WorkflowLogFactory(client=client_a, ticket_id="48213", document=document)
    html = http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id])).content
    html = html.decode()
    subject = re.search(r'data-testid="detail-subject">(.*?)</p>', html, re.S).group(1)
    assert "<strong>Kitchen tap &lt;b&gt;drips&lt;/b&gt;</strong>" in subject
    assert "hashed" not in subject
    tags = re.search(r'data-testid="trace-tags">(.*?)</p>', html, re.S).group(1)
    assert re.findall(r'<span class="badge tag">(.*?)</span>', tags) == ["faucet", "warranty"]
    attachments = re.search(r'data-testid="trace-attachments">(.*?)</div>', html, re.S).group(1)
    assert "Attachments (1)" in attachments
    assert '<li>image/jpeg <span class="muted">\u00b7 2.0\u00a0KB</span></li>' in attachments


def test_the_detail_page_labels_a_hashed_subject_as_a_hash(http_a, client_a):
    hashed = "sha256:" + "0f" * 32
    entry = WorkflowLogFactory(
        client=client_a, document={"trace": {"ticket": {"id": "1", "subject": hashed}}}
    )
    html = http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id])).content
    subject = re.search(r'data-testid="detail-subject">(.*?)</p>', html.decode(), re.S).group(1)
    assert "hashed by the workflow" in subject
    assert f'<code class="hash" title="hashed">{hashed}</code>' in subject
