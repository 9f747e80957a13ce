"""The weekly report's numbers, read from real logs over several weeks, and its pages."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from collector.readmodel.facts import percentile_from_histogram
from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.monitors.metrics import metric_value
from dashboard.monitors.models import AlertState, Metric
from dashboard.monitors.selectors.reports import (
    client_report,
    last_complete_week,
    owner_report_all_clients_unscoped,
    week_monday,
)
from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory
from dashboard.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

WEEK = dt.date(2026, 6, 1)  # a Monday
UTC = dt.UTC


def at(week: dt.date, day: int = 2, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(week + dt.timedelta(days=day), dt.time(hour, minute), tzinfo=UTC)


def logs(client, week: dt.date, statuses: list[str], **fields) -> list:
    """One log per status, spread over the week's Tuesday (minutes apart)."""
    return [
        WorkflowLogFactory(client=client, timestamp=at(week, minute=i), status=status, **fields)
        for i, status in enumerate(statuses)
    ]


def row(report, metric):
    return next(r for r in report.rows if r.metric == metric)


def test_week_helpers_use_monday_weeks_in_utc():
    assert week_monday(dt.date(2026, 6, 4)) == WEEK
    assert week_monday(WEEK) == WEEK
    # Sunday night is still the week that started on Monday.
    assert last_complete_week(dt.datetime(2026, 6, 8, 0, 0, tzinfo=UTC)) == WEEK
    assert last_complete_week(dt.datetime(2026, 6, 7, 23, 59, tzinfo=UTC)) == WEEK - dt.timedelta(7)


def test_report_numbers_equal_the_logs_counted_by_hand():
    acme = ClientFactory(slug="acme")
    made = [
        *logs(acme, WEEK, ["SUCCESS"] * 6, overall_confidence=0.9, hallucination_risk=0.1),
        *logs(acme, WEEK, ["ESCALATED"] * 2, overall_confidence=0.5, hallucination_risk=0.3),
        *logs(
            acme,
            WEEK,
            ["FAILED", "ERROR"],
            overall_confidence=0.2,
            hallucination_risk=0.6,
            error_type="Timeout",
            error_node="search",
        ),
    ]
    # A log the Monday after (00:00, the next week) and one the Sunday before: not counted.
    WorkflowLogFactory(client=acme, timestamp=at(WEEK, day=7, hour=0))
    WorkflowLogFactory(client=acme, timestamp=at(WEEK, day=-1, hour=23, minute=59))

    report = client_report(client=acme, week=WEEK)

    assert report.runs == 10
    assert row(report, Metric.VOLUME).value == 10
    assert row(report, Metric.SUCCESS_RATE).value == pytest.approx(6 / 10)
    assert row(report, Metric.ESCALATION_RATE).value == pytest.approx(2 / 10)
    confidences = [log.overall_confidence for log in made]
    risks = [log.hallucination_risk for log in made]
    assert row(report, Metric.CONFIDENCE).value == pytest.approx(statistics.mean(confidences))
    assert row(report, Metric.HALLUCINATION_RISK).value == pytest.approx(statistics.mean(risks))
    # Every log took 4.5 s (the factory's): the p95 read from the histogram is within 2 %.
    assert row(report, Metric.P95_EXECUTION).value == pytest.approx(4.5, rel=0.02)
    assert [(e.name, e.runs) for e in report.error_types] == [("Timeout", 2)]
    assert [(e.name, e.runs) for e in report.error_nodes] == [("search", 2)]


def test_changes_against_the_previous_week_and_the_median_of_the_four_weeks_before():
    acme = ClientFactory(slug="acme")
    weeks = [WEEK - dt.timedelta(weeks=back) for back in range(6)]
    # Success: this week 5/10; previous weeks 9/10, 10/10, 2/4, 8/10; five weeks back
    # (outside the normal) 0/10.
    plan = [(5, 10), (9, 10), (10, 10), (2, 4), (8, 10), (0, 10)]
    for week, (good, runs) in zip(weeks, plan, strict=True):
        logs(acme, week, ["SUCCESS"] * good + ["FAILED"] * (runs - good))

    success = row(client_report(client=acme, week=WEEK), Metric.SUCCESS_RATE)

    assert success.value == pytest.approx(0.5)
    assert success.previous == pytest.approx(0.9)
    assert success.change_previous == pytest.approx(-0.4)
    normal = statistics.median([0.9, 1.0, 0.5, 0.8])  # 0.85
    assert success.normal == pytest.approx(normal)
    assert success.normal_weeks == 4
    assert success.change_normal == pytest.approx(0.5 - normal)
    runs = row(client_report(client=acme, week=WEEK), Metric.VOLUME)
    assert runs.normal == 10  # median of 10, 10, 4, 10
    assert runs.change_previous == 0  # 10 runs, as the week before


def test_the_normal_needs_two_weeks_of_history_and_skips_empty_weeks():
    acme = ClientFactory(slug="acme")
    logs(acme, WEEK, ["SUCCESS"] * 4)
    logs(acme, WEEK - dt.timedelta(weeks=3), ["SUCCESS", "FAILED"])
    report = client_report(client=acme, week=WEEK)
    success = row(report, Metric.SUCCESS_RATE)
    assert success.previous is None  # nothing the week before
    assert success.normal is None and success.normal_weeks == 1
    # Weeks without runs are no history: not a normal of 0 runs.
    volume = row(report, Metric.VOLUME)
    assert volume.previous == 0 and volume.normal is None
    logs(acme, WEEK - dt.timedelta(weeks=4), ["FAILED", "FAILED"])
    success = row(client_report(client=acme, week=WEEK), Metric.SUCCESS_RATE)
    assert success.normal == pytest.approx(statistics.median([0.5, 0.0]))


def test_versions_deployed_are_those_first_seen_in_the_week():
    acme = ClientFactory(slug="acme")
    logs(acme, WEEK - dt.timedelta(weeks=8), ["SUCCESS"], workflow_version="v1.0")
    logs(acme, WEEK, ["SUCCESS"], workflow_version="v1.0")
    logs(acme, WEEK, ["SUCCESS"], workflow_version="v2.0")
    logs(acme, WEEK + dt.timedelta(weeks=1), ["SUCCESS"], workflow_version="v3.0")
    assert client_report(client=acme, week=WEEK).versions_deployed == ["v2.0"]


def test_alerts_opened_and_resolved_in_the_week_and_only_the_clients_own():
    acme, globex = ClientFactory(slug="acme"), ClientFactory(slug="globex")
    monitor = MonitorFactory(client=acme)
    opened = AlertFactory(monitor=monitor, opened_at=at(WEEK, 1))
    resolved = AlertFactory(
        monitor=MonitorFactory(client=acme, metric=Metric.ESCALATION_RATE),
        opened_at=at(WEEK, -3),
        state=AlertState.RESOLVED,
        resolved_at=at(WEEK, 2),
    )
    AlertFactory(
        monitor=MonitorFactory(client=acme, metric=Metric.ERROR_RATE), opened_at=at(WEEK, 8)
    )
    AlertFactory(monitor=MonitorFactory(client=globex), opened_at=at(WEEK, 1))

    report = client_report(client=acme, week=WEEK)

    assert report.alerts_opened == [opened]
    assert report.alerts_resolved == [resolved]


def test_the_owner_report_has_a_row_per_active_client_and_the_totals():
    acme, globex = ClientFactory(slug="acme"), ClientFactory(slug="globex")
    ClientFactory(slug="gone", is_active=False)
    logs(acme, WEEK, ["SUCCESS"] * 3 + ["FAILED"], execution_time_seconds=2.0)
    logs(globex, WEEK, ["ESCALATED"] * 2, execution_time_seconds=20.0)
    logs(globex, WEEK - dt.timedelta(weeks=1), ["SUCCESS"] * 4)
    AlertFactory(monitor=MonitorFactory(client=globex), opened_at=at(WEEK, 1))

    report = owner_report_all_clients_unscoped(week=WEEK)

    assert [c.client.slug for c in report.clients] == ["acme", "globex"]
    by_slug = {c.client.slug: c for c in report.clients}
    assert by_slug["acme"].runs == 4
    assert row(by_slug["acme"], Metric.SUCCESS_RATE).value == pytest.approx(0.75)
    assert row(by_slug["globex"], Metric.ESCALATION_RATE).value == pytest.approx(1.0)
    assert row(by_slug["globex"], Metric.SUCCESS_RATE).previous == pytest.approx(1.0)
    assert by_slug["globex"].alerts_opened == 1
    # No p95 per client (the batched read has no histogram), but over all of them.
    assert all(r.metric != Metric.P95_EXECUTION for r in by_slug["acme"].rows)
    total = {r.metric: r for r in report.totals}
    assert total[Metric.VOLUME].value == 6
    assert total[Metric.SUCCESS_RATE].value == pytest.approx(3 / 6)
    expected = percentile_from_histogram({}, 0.95)
    assert expected is None
    # 4 runs at 2 s and 2 at 20 s: p95 interpolates between ranks 4 and 5 (both 20 s).
    assert total[Metric.P95_EXECUTION].value == pytest.approx(20.0, rel=0.02)


def test_report_values_are_metric_value_of_the_read_model():
    """The report defines no metric of its own: the same figures as metric_value."""
    from collector.readmodel import reads
    from dashboard.monitors.selectors.reports import week_span

    acme = ClientFactory(slug="acme")
    logs(acme, WEEK, ["SUCCESS", "FAILED", "ESCALATED"], overall_confidence=0.7)
    (totals,) = reads.totals(reads.Scope(client_id=acme.pk), [week_span(WEEK)])
    report = client_report(client=acme, week=WEEK)
    for metric in (Metric.SUCCESS_RATE, Metric.ESCALATION_RATE, Metric.CONFIDENCE):
        assert row(report, metric).value == metric_value(metric, totals).value


# The pages ------------------------------------------------------------------------------


@pytest.fixture
def acme_logs(client_a):
    logs(client_a, WEEK, ["SUCCESS"] * 3 + ["FAILED"], error_type="Timeout", error_node="n1")
    logs(client_a, WEEK - dt.timedelta(weeks=1), ["SUCCESS"] * 2)
    return client_a


def test_the_report_page_shows_the_week_with_links_to_the_weeks_around(http_a, acme_logs):
    url = reverse("dashboard:report", args=[acme_logs.slug])
    response = http_a.get(url, {"week": WEEK.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Weekly report: Acme Plumbing" in html
    assert 'data-testid="value-success_rate">75.0%<' in html
    assert "Timeout" in html
    assert f"{url}?week=2026-05-25" in html
    assert f"{url}?week=2026-06-08" in html
    assert "period=custom&amp;start=2026-06-01&amp;end=2026-06-07" in html


def test_a_day_that_is_not_a_monday_shows_its_week_and_says_so(http_a, acme_logs):
    url = reverse("dashboard:report", args=[acme_logs.slug])
    response = http_a.get(url, {"week": "2026-06-04"})
    assert response.status_code == 200
    assert b'data-testid="week-normalised"' in response.content
    assert b"from Monday 2026-06-01" in response.content


@pytest.mark.parametrize("week", ["2026-13-01", "last week", "0001-01-01", "2999-12-30"])
def test_a_bad_week_is_a_form_error_not_a_500(http_a, client_a, week):
    response = http_a.get(reverse("dashboard:report", args=[client_a.slug]), {"week": week})
    assert response.status_code == 400
    assert b'data-testid="form-errors"' in response.content


@pytest.fixture
def wednesday_2026_06_10(monkeypatch):
    """Now is in the week of 2026-06-08; the last complete week is 2026-06-01."""
    from django.utils import timezone

    now = dt.datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


@pytest.mark.parametrize("path", ["dashboard:report", "dashboard:owner_report"])
@pytest.mark.parametrize("week", ["2026-06-08", "2026-06-10", "2026-06-14"])
def test_the_week_in_progress_is_a_form_error_like_other_bad_weeks(
    http_a, http_owner, client_a, wednesday_2026_06_10, path, week
):
    http, args = (http_a, [client_a.slug]) if path == "dashboard:report" else (http_owner, [])
    response = http.get(reverse(path, args=args), {"week": week})
    assert response.status_code == 400
    assert b'data-testid="form-errors"' in response.content
    assert b"not over yet" in response.content
    assert b"the week of 2026-06-01" in response.content


def test_the_last_complete_week_has_no_next_link_into_the_week_in_progress(
    http_a, acme_logs, wednesday_2026_06_10
):
    url = reverse("dashboard:report", args=[acme_logs.slug])
    last = http_a.get(url, {"week": "2026-06-01"})
    assert last.status_code == 200
    assert b'data-testid="next-week"' not in last.content
    assert f"{url}?week=2026-05-25".encode() in last.content
    before = http_a.get(url, {"week": "2026-05-25"}).content.decode()
    assert f'href="{url}?week=2026-06-01" data-testid="next-week"' in before


def test_without_a_week_the_page_shows_the_last_complete_week(http_a, client_a):
    response = http_a.get(reverse("dashboard:report", args=[client_a.slug]))
    assert response.status_code == 200
    assert response.context["report"].week == last_complete_week(dt.datetime.now(UTC))


def test_another_clients_report_is_404(http_a, client_b):
    assert http_a.get(reverse("dashboard:report", args=[client_b.slug])).status_code == 404


def test_the_owner_report_page_is_the_owners_only(http_owner, http_a, acme_logs, client_b):
    url = reverse("dashboard:owner_report")
    assert http_a.get(url).status_code == 404
    response = http_owner.get(url, {"week": WEEK.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Weekly report: all clients" in html
    assert 'data-client="acme"' in html and 'data-client="globex"' in html
    assert HttpClient().get(url).status_code == 302  # anonymous: to the login page


def test_the_page_is_printable_without_navigation(http_a, acme_logs):
    """The print style sheet hides the top bar, the week navigation and buttons."""
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "static" / "css" / "flusso.css").read_text()
    print_rules = css.split("@media print", 1)[1]
    for selector in (".topbar", ".no-print", "button"):
        assert selector in print_rules.split("}", 1)[0]
    html = http_a.get(
        reverse("dashboard:report", args=[acme_logs.slug]), {"week": WEEK.isoformat()}
    ).content.decode()
    assert 'class="report-nav no-print"' in html


def test_a_client_cannot_be_named_like_a_fixed_dashboard_path():
    from collector.services.clients import client_create
    from flusso_site.errors import ApplicationError

    for slug in ("report", "compare", "unsubscribe"):
        with pytest.raises(ApplicationError) as caught:
            client_create(slug=slug, name="Clash")
        assert "slug" in caught.value.fields


def test_a_member_of_two_clients_sees_each_clients_own_report():
    acme, globex = ClientFactory(slug="acme"), ClientFactory(slug="globex")
    logs(acme, WEEK, ["SUCCESS"] * 2)
    logs(globex, WEEK, ["FAILED"] * 5)
    user = MembershipFactory(client=acme).user
    MembershipFactory(client=globex, user=user)
    http = HttpClient()
    http.force_login(user)
    a = http.get(reverse("dashboard:report", args=["acme"]), {"week": WEEK.isoformat()})
    b = http.get(reverse("dashboard:report", args=["globex"]), {"week": WEEK.isoformat()})
    assert a.context["report"].runs == 2 and b.context["report"].runs == 5
