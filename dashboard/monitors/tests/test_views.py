"""The alerts page, its actions, the overview's open alerts and the charts' markers."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.monitors.models import AlertEvent, AlertState, Metric
from dashboard.monitors.selectors.alerts import ALERTS_PER_PAGE
from dashboard.monitors.services.alerts import alert_open, alert_resolve
from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory
from dashboard.tests.factories import MembershipFactory
from dashboard.tests.fixtures import CUSTOM_QUERY, at, log

pytestmark = pytest.mark.django_db

OPENED = at(2026, 11, 5, 10, 20)


def alerts_url(client) -> str:
    return reverse("dashboard:alerts", args=[client.slug])


def action_url(name: str, client, alert) -> str:
    return reverse(f"dashboard:alert_{name}", args=[client.slug, alert.pk])


def figures(html: str) -> list[dict]:
    """The plotly figures a page carries (the JSON blocks static/js/charts.js draws)."""
    blocks = re.findall(
        r'<script type="application/json" data-plotly-figure="[^"]+">(.*?)</script>', html, re.S
    )
    return [json.loads(block) for block in blocks]


def item(html: str, alert) -> str:
    match = re.search(
        rf'<li class="card alert-item"[^>]*data-alert="{alert.pk}".*?</li>', html, re.S
    )
    assert match, f"alert {alert.pk} not on the page"
    return match.group(0)


def text(fragment: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</dd>', fragment, re.S)
    assert match, testid
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1))).strip()


@pytest.fixture
def drifted(client_a):
    """A success-rate alert opened by the service on real logs: 1 of 4 runs succeeded."""
    for status in ("SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"):
        log(client_a, at(2026, 11, 5, 8, 15), status=status)
    for status in ("SUCCESS", "FAILED", "FAILED", "ERROR"):
        log(client_a, at(2026, 11, 5, 9, 40), status=status)
    log(client_a, at(2026, 11, 5, 9, 45), status="FAILED", environment="staging")
    return alert_open(
        monitor=MonitorFactory(client=client_a),
        environment="production",
        at=OPENED,
        window_start=at(2026, 11, 5, 9, 20),
        window_end=OPENED,
        value=0.25,
        sample_size=4,
        baseline_median=0.95,
        baseline_low=0.9,
        baseline_high=0.99,
        p_value=0.0012,
        last_value=0.5,
    )


# The page --------------------------------------------------------------------------------


def test_a_member_sees_the_alert_its_values_band_and_chart(http_a, client_a, drifted):
    response = http_a.get(alerts_url(client_a))
    assert response.status_code == 200
    html = response.content.decode()
    row = item(html, drifted)
    assert "success rate" in row and "production" in row
    assert 'data-testid="alert-state">open<' in row
    assert text(row, "alert-value").startswith("25.0% over")
    assert "4 runs" in text(row, "alert-value")
    assert text(row, "alert-latest").startswith("50.0%")
    assert text(row, "alert-band") == "95.0% (90.0% \u2013 99.0%)"
    assert "2026-11-05 10:20" in text(row, "alert-opened")
    # The chart: the metric per hour from the rollups, the band, the opening marked.
    (figure,) = figures(row)
    traces = {trace.get("name"): trace for trace in figure["data"]}
    assert traces["normal band"]["y"] == [0.9, 0.9, 0.99, 0.99]
    values = dict(zip(traces["success rate"]["x"], traces["success rate"]["y"], strict=True))
    assert values["2026-11-05T08:00:00+00:00"] == 1.0
    assert values["2026-11-05T09:00:00+00:00"] == 0.25
    assert traces["alert opened"]["x"] == ["2026-11-05T10:20:00+00:00"]
    assert [s["x0"] for s in figure["layout"]["shapes"]] == ["2026-11-05T10:20:00+00:00"]


def test_the_logs_link_opens_the_log_list_of_exactly_the_alerts_window_and_environment(
    http_a, client_a, drifted
):
    inside = log(client_a, at(2026, 11, 5, 9, 50), ticket_id="INSIDE")
    before = log(client_a, at(2026, 11, 5, 9, 19), ticket_id="BEFORE")
    at_end = log(client_a, OPENED, ticket_id="ATEND")
    other_env = log(client_a, at(2026, 11, 5, 9, 55), environment="staging", ticket_id="STG")
    row = item(http_a.get(alerts_url(client_a)).content.decode(), drifted)
    href = re.search(r'href="([^"]+)" data-testid="alert-logs"', row).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(href).query)
    assert query == {
        "start": ["2026-11-05T09:20:00Z"],
        "end": ["2026-11-05T10:20:00Z"],
        "environment": ["production"],
    }
    shown = set(re.findall(r'<tr data-log="([0-9a-f-]+)"', http_a.get(href).content.decode()))
    assert str(inside.log_id) in shown
    assert not {str(x.log_id) for x in (before, at_end, other_env)} & shown
    assert len(shown) == 5  # the four 09:40 runs and the one inserted at 09:50


def test_another_clients_user_gets_404_on_the_page_and_on_the_actions(client_a, client_b, drifted):
    http_b = HttpClient()
    http_b.force_login(MembershipFactory(client=client_b).user)
    assert http_b.get(alerts_url(client_a)).status_code == 404
    for name in ("acknowledge", "resolve"):
        # Under the alert's own client's slug, and under their own slug with its id.
        assert http_b.post(action_url(name, client_a, drifted)).status_code == 404
        assert http_b.post(action_url(name, client_b, drifted)).status_code == 404
    drifted.refresh_from_db()
    assert drifted.state == AlertState.OPEN
    assert AlertEvent.objects.filter(alert=drifted).count() == 1


def test_the_owner_sees_every_clients_alerts_and_may_act(http_owner, owner, client_a, client_b):
    a = AlertFactory(monitor__client=client_a)
    b = AlertFactory(monitor__client=client_b, metric=Metric.ESCALATION_RATE)
    assert f'data-alert="{a.pk}"' in http_owner.get(alerts_url(client_a)).content.decode()
    page_b = http_owner.get(alerts_url(client_b)).content.decode()
    assert f'data-alert="{b.pk}"' in page_b and f'data-alert="{a.pk}"' not in page_b
    http_owner.post(action_url("acknowledge", client_b, b))
    b.refresh_from_db()
    assert (b.state, b.acknowledged_by) == (AlertState.ACKNOWLEDGED, owner)


def test_acknowledging_records_who_and_when_once(http_a, user_a, client_a, drifted):
    response = http_a.post(action_url("acknowledge", client_a, drifted))
    assert response.status_code == 302
    assert response["Location"] == alerts_url(client_a)
    drifted.refresh_from_db()
    first_at = drifted.acknowledged_at
    assert (drifted.state, drifted.acknowledged_by) == (AlertState.ACKNOWLEDGED, user_a)
    # A colleague clicking a stale page later changes nothing.
    colleague = HttpClient()
    colleague.force_login(MembershipFactory(client=client_a).user)
    colleague.post(action_url("acknowledge", client_a, drifted))
    drifted.refresh_from_db()
    assert (drifted.acknowledged_by, drifted.acknowledged_at) == (user_a, first_at)
    assert AlertEvent.objects.filter(alert=drifted, kind="acknowledged").count() == 1
    row = item(http_a.get(alerts_url(client_a)).content.decode(), drifted)
    assert 'data-testid="alert-state">acknowledged<' in row
    assert "by ann@acme.example" in text(row, "alert-acknowledged")
    assert 'data-testid="acknowledge"' not in row and 'data-testid="resolve"' in row


def test_a_client_user_sees_the_flusso_team_not_the_owners_address(
    http_a, http_owner, owner, client_a
):
    acknowledged = AlertFactory(monitor__client=client_a, opened_at=OPENED)
    resolved = AlertFactory(
        monitor__client=client_a, opened_at=OPENED, metric=Metric.ESCALATION_RATE
    )
    http_owner.post(action_url("acknowledge", client_a, acknowledged))
    http_owner.post(action_url("resolve", client_a, resolved))
    page = http_a.get(alerts_url(client_a)).content.decode()
    assert owner.email not in page
    assert text(item(page, acknowledged), "alert-acknowledged").endswith("by the Flusso team")
    assert text(item(page, resolved), "alert-resolved").endswith("by the Flusso team")
    # The owner sees who it was.
    own = http_owner.get(alerts_url(client_a)).content.decode()
    assert f"by {owner.email}" in text(item(own, acknowledged), "alert-acknowledged")
    assert f"by {owner.email}" in text(item(own, resolved), "alert-resolved")


def test_resolving_by_hand_names_who_and_an_automatic_resolution_says_so(
    http_a, user_a, client_a, drifted
):
    http_a.post(
        action_url("resolve", client_a, drifted), {"next": alerts_url(client_a) + "?page=1"}
    )
    drifted.refresh_from_db()
    assert (drifted.state, drifted.resolved_by) == (AlertState.RESOLVED, user_a)
    auto = alert_resolve(alert=AlertFactory(monitor__client=client_a, opened_at=OPENED))
    html = http_a.get(alerts_url(client_a)).content.decode()
    assert text(item(html, drifted), "alert-resolved").endswith("by ann@acme.example")
    assert "automatically" in text(item(html, auto), "alert-resolved")
    assert 'data-testid="resolve"' not in item(html, drifted)


def test_a_resolved_alert_cannot_be_acknowledged_and_says_why(http_a, client_a, drifted):
    alert_resolve(alert=drifted)
    response = http_a.post(action_url("acknowledge", client_a, drifted))
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "This alert is resolved already."
    ]
    drifted.refresh_from_db()
    assert drifted.state == AlertState.RESOLVED and drifted.acknowledged_at is None


def test_actions_take_post_only_and_go_back_only_to_the_alerts_page(http_a, client_a, drifted):
    assert http_a.get(action_url("acknowledge", client_a, drifted)).status_code == 405
    response = http_a.post(
        action_url("acknowledge", client_a, drifted), {"next": "https://evil.example/"}
    )
    assert response["Location"] == alerts_url(client_a)


def test_actions_need_the_csrf_token(user_a, client_a, drifted):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(user_a)
    assert http.post(action_url("resolve", client_a, drifted)).status_code == 403
    page = http.get(alerts_url(client_a)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = http.post(action_url("resolve", client_a, drifted), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    drifted.refresh_from_db()
    assert drifted.state == AlertState.RESOLVED


def test_without_alerts_the_page_says_what_is_watched_and_how_to_add_channels(http_a, client_a):
    html = http_a.get(alerts_url(client_a)).content.decode()
    assert 'data-testid="alerts-empty"' in html
    assert "Monitors watch" in html
    assert "create_alert_channel acme --email ADDRESS" in html


def test_a_bad_page_number_is_not_an_error(http_a, client_a, drifted):
    for page in ("x", "-1", "999999999999999999999"):
        assert http_a.get(alerts_url(client_a), {"page": page}).status_code == 200


def test_the_pages_query_count_is_bounded_whatever_the_number_of_alerts_and_logs(
    http_a, client_a, django_assert_max_num_queries
):
    monitor = MonitorFactory(client=client_a)

    def add_alerts(count: int, offset: int) -> None:
        for n in range(count):
            AlertFactory(
                monitor=monitor,
                state=AlertState.RESOLVED,
                opened_at=OPENED - dt.timedelta(hours=offset + n),
            )

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert http_a.get(alerts_url(client_a)).status_code == 200
        return len(queries)

    add_alerts(ALERTS_PER_PAGE, 0)
    full_page = count()
    add_alerts(3 * ALERTS_PER_PAGE, ALERTS_PER_PAGE)
    for hour in range(30):
        for status in ("SUCCESS", "FAILED"):
            log(client_a, OPENED - dt.timedelta(hours=hour, minutes=7), status=status)
    assert count() == full_page
    # About two reads per chart (hour rollups, the raw edge) plus the page's own.
    with django_assert_max_num_queries(2 * ALERTS_PER_PAGE + 12):
        http_a.get(alerts_url(client_a))


# The owner's overview and the nav ----------------------------------------------------------


def test_the_overview_shows_each_clients_unresolved_alerts_linking_to_its_page(
    http_owner, client_a, client_b, django_assert_max_num_queries
):
    AlertFactory(monitor=MonitorFactory(client=client_a))
    AlertFactory(monitor=MonitorFactory(client=client_a), state=AlertState.ACKNOWLEDGED)
    AlertFactory(monitor__client=client_b, state=AlertState.RESOLVED)
    html = http_owner.get(reverse("dashboard:home")).content.decode()

    def cell(slug: str) -> str:
        row = re.search(rf'<tr data-client="{slug}".*?</tr>', html, re.S).group(0)
        return re.search(r'data-col="open_alerts">(.*?)</td>', row, re.S).group(1)

    assert f'href="{alerts_url(client_a)}"' in cell("acme") and ">2<" in cell("acme")
    assert f'href="{alerts_url(client_b)}"' in cell("globex") and ">0<" in cell("globex")
    # One grouped count for every client: more clients, no more queries.
    with CaptureQueriesContext(connection) as before:
        http_owner.get(reverse("dashboard:home"))
    for n in range(5):
        AlertFactory(monitor__client__slug=f"more-{n}")
    with django_assert_max_num_queries(len(before)):
        http_owner.get(reverse("dashboard:home"))


def test_a_client_users_nav_shows_their_clients_open_count(http_a, client_a, client_b):
    log(client_a, at(2026, 11, 5, 8))
    AlertFactory(monitor=MonitorFactory(client=client_a))
    AlertFactory(monitor=MonitorFactory(client=client_a), state=AlertState.RESOLVED)
    AlertFactory(monitor=MonitorFactory(client=client_b))
    AlertFactory(monitor=MonitorFactory(client=client_b))
    for url in (reverse("dashboard:client", args=["acme"]), alerts_url(client_a)):
        html = http_a.get(url, CUSTOM_QUERY).content.decode()
        assert re.search(r'data-testid="nav-open-alerts"[^>]*>1</span>', html), url


# Markers on the dashboard's charts ---------------------------------------------------------


def test_the_dashboards_time_series_carry_alert_and_version_markers(http_a, client_a):
    log(client_a, at(2026, 10, 25, 8), workflow_version="v1")
    log(client_a, at(2026, 11, 3, 8), workflow_version="v1")
    log(client_a, at(2026, 11, 4, 14, 10), workflow_version="v2")
    AlertFactory(monitor__client=client_a, opened_at=OPENED)
    html = http_a.get(reverse("dashboard:client", args=["acme"]), CUSTOM_QUERY).content.decode()
    volume, success, quality = figures(html)[:3]
    for figure in (volume, success, quality):
        markers = {t["name"]: t for t in figure["data"] if t.get("yaxis") == "y2"}
        assert markers["alert opened"]["x"] == ["2026-11-05T10:20:00+00:00"]
        assert markers["alert opened"]["text"] == ["alert: success rate (production)"]
        assert markers["new version"]["x"] == ["2026-11-04T14:00:00+00:00"]
        assert markers["new version"]["text"] == ["version v2 first seen"]
        assert len(figure["layout"]["shapes"]) == 2
    listed = re.search(r'data-testid="chart-markers">(.*?)</ul>', html, re.S).group(1)
    assert "version v2 first seen" in listed
    assert "1 alert opened" in listed
    # The new version links to its comparison with the one before.
    assert 'data-testid="compare-link"' in listed
    assert "compare/?dimension=version&amp;a=v1&amp;b=v2" in listed


def test_a_version_markers_compare_link_opens_a_comparison_over_the_dashboards_period(
    http_a, client_a
):
    """The versions are older than the comparison's default 30 days: followed without the
    dashboard's period, the link answered 400 (no runs of v1 in that period)."""
    from django.utils import timezone

    today = timezone.now().date()
    log(client_a, timezone.now() - dt.timedelta(days=70), workflow_version="v1")
    log(client_a, timezone.now() - dt.timedelta(days=60), workflow_version="v2")
    period = {
        "period": "custom",
        "start": (today - dt.timedelta(days=80)).isoformat(),
        "end": (today - dt.timedelta(days=40)).isoformat(),
    }
    html = http_a.get(reverse("dashboard:client", args=["acme"]), period).content.decode()
    links = re.findall(r'<a href="([^"]+)" data-testid="compare-link"', html)
    assert len(links) == 1
    response = http_a.get(links[0].replace("&amp;", "&"))
    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert (comparison.a, comparison.b, comparison.runs_a, comparison.runs_b) == ("v1", "v2", 1, 1)


def test_more_alerts_than_the_charts_mark_are_counted_in_full(http_a, client_a):
    from dashboard.monitors.selectors.alerts import MARKER_ALERTS_MAX

    log(client_a, at(2026, 11, 3, 8))
    monitor = MonitorFactory(client=client_a)
    for i in range(MARKER_ALERTS_MAX + 3):
        AlertFactory(
            monitor=monitor, opened_at=OPENED - dt.timedelta(minutes=i), environment=f"e{i}"
        )
    html = http_a.get(reverse("dashboard:client", args=["acme"]), CUSTOM_QUERY).content.decode()
    listed = re.search(r'data-testid="alert-markers">(.*?)</li>', html, re.S).group(1)
    assert f"{MARKER_ALERTS_MAX + 3} alerts opened" in listed
    assert f"the newest {MARKER_ALERTS_MAX} marked on the charts, and 3 more" in listed


def test_without_events_in_the_window_the_charts_have_no_markers(http_a, client_a):
    log(client_a, at(2026, 11, 3, 8))
    AlertFactory(monitor__client=client_a, opened_at=at(2026, 10, 1))
    html = http_a.get(reverse("dashboard:client", args=["acme"]), CUSTOM_QUERY).content.decode()
    for figure in figures(html)[:3]:
        assert not any(t.get("yaxis") == "y2" for t in figure["data"])
        assert "shapes" not in figure["layout"]
    assert 'data-testid="chart-markers"' not in html


def test_a_silence_says_since_when_and_how_many_logs_were_expected(http_a, client_a):
    """A silence alert's value is minutes without logs and its "normal" the logs this
    client usually sends in that time: said in words, not as a rate and a band."""
    now = at(2026, 12, 1, 15, 55)
    last = now - dt.timedelta(days=3)
    monitor = MonitorFactory(client=client_a, metric=Metric.SILENCE)
    alert = AlertFactory(
        monitor=monitor,
        opened_at=now,
        window_start=last,
        window_end=now,
        value=3 * 24 * 60,
        sample_size=0,
        baseline_median=23.2,
        baseline_low=None,
        baseline_high=None,
    )
    html = http_a.get(reverse("dashboard:alerts", args=[client_a.slug])).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item(html, alert)))
    assert "no logs for 3 days, since 2026-11-28 15:55" in text
    assert "about 23 logs in that time" in text
    assert "4,320" not in text  # the minutes, as a number
