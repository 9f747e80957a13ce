"""Alert reads: page order, scoping through the client, charts and markers from the rollups."""

from __future__ import annotations

import datetime as dt

import pytest

from collector.readmodel import reads
from dashboard.monitors.models import AlertState, Metric
from dashboard.monitors.selectors.alerts import (
    ALERTS_PER_PAGE,
    CHART_HOURS_AFTER,
    CHART_HOURS_BEFORE,
    MARKER_ALERTS_MAX,
    alert_chart,
    alert_get,
    alert_list,
    alert_logs_url,
    alert_open_count,
    alert_open_counts_unscoped,
    alert_page,
    chart_markers,
    compare_url,
)
from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory
from dashboard.tests.fixtures import at, log

pytestmark = pytest.mark.django_db

OPENED = at(2026, 11, 5, 10, 20)


def test_unresolved_alerts_come_first_open_then_acknowledged_newest_first(client_a):
    monitor = MonitorFactory(client=client_a)
    make = lambda hours, state, env: AlertFactory(  # noqa: E731
        monitor=monitor, state=state, environment=env, opened_at=OPENED + dt.timedelta(hours=hours)
    )
    resolved_new = make(9, AlertState.RESOLVED, "a")
    open_old = make(1, AlertState.OPEN, "b")
    acked = make(8, AlertState.ACKNOWLEDGED, "c")
    open_new = make(5, AlertState.OPEN, "d")
    resolved_old = make(0, AlertState.RESOLVED, "e")
    assert alert_list(client=client_a) == [open_new, open_old, acked, resolved_new, resolved_old]


def test_a_client_sees_only_its_own_alerts_and_another_clients_id_finds_none(client_a, client_b):
    mine = AlertFactory(monitor__client=client_a)
    theirs = AlertFactory(monitor__client=client_b)
    assert alert_list(client=client_a) == [mine]
    assert alert_get(client=client_a, alert_id=mine.pk) == mine
    assert alert_get(client=client_a, alert_id=theirs.pk) is None
    assert alert_get(client=client_a, alert_id=theirs.pk + 1000) is None


def test_open_counts_leave_out_resolved_alerts_and_count_every_client_in_one_query(
    client_a, client_b, django_assert_num_queries
):
    for state in (AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
        AlertFactory(monitor=MonitorFactory(client=client_a), state=state)
    AlertFactory(monitor__client=client_b, state=AlertState.RESOLVED)
    with django_assert_num_queries(1):
        counts = alert_open_counts_unscoped()
    assert counts == {client_a.pk: 2}
    assert alert_open_count(client=client_a) == 2
    assert alert_open_count(client=client_b) == 0


def test_the_logs_link_is_the_alerts_window_and_environment_in_the_log_viewers_parameters(
    client_a,
):
    alert = AlertFactory(
        monitor__client=client_a,
        environment="staging",
        window_start=at(2026, 11, 5, 9, 20),
        window_end=at(2026, 11, 5, 10, 20),
    )
    assert alert_logs_url(client=client_a, alert=alert) == (
        "/dashboard/acme/logs/?start=2026-11-05T09%3A20%3A00Z"
        "&end=2026-11-05T10%3A20%3A00Z&environment=staging"
    )


def test_the_chart_is_the_metric_per_hour_around_the_opening_from_the_rollups(client_a):
    # Before it opened: 3 of 4 runs succeed at 08:xx; at 10:xx, 1 of 4; other envs ignored.
    for status in ("SUCCESS", "SUCCESS", "SUCCESS", "FAILED"):
        log(client_a, at(2026, 11, 5, 8, 15), status=status)
    for status in ("SUCCESS", "FAILED", "FAILED", "ERROR"):
        log(client_a, at(2026, 11, 5, 10, 5), status=status)
    log(client_a, at(2026, 11, 5, 10, 6), status="FAILED", environment="staging")
    alert = AlertFactory(monitor__client=client_a, opened_at=OPENED, environment="production")
    chart = alert_chart(client=client_a, alert=alert, now=at(2026, 12, 1))
    by_hour = {p.bucket: p for p in chart.points}
    assert chart.points[0].bucket == at(2026, 11, 5, 10) - dt.timedelta(hours=CHART_HOURS_BEFORE)
    assert len(chart.points) == CHART_HOURS_BEFORE + CHART_HOURS_AFTER + 1
    assert by_hour[at(2026, 11, 5, 8)].value == 0.75
    assert by_hour[at(2026, 11, 5, 8)].samples == 4
    assert by_hour[at(2026, 11, 5, 10)].value == 0.25
    assert by_hour[at(2026, 11, 5, 9)].value is None
    assert (chart.median, chart.low, chart.high) == (0.91, 0.84, 0.97)
    assert chart.kind == "pct"


def test_the_chart_stops_now_for_an_alert_that_just_opened(client_a):
    alert = AlertFactory(monitor__client=client_a, opened_at=OPENED)
    chart = alert_chart(client=client_a, alert=alert, now=OPENED + dt.timedelta(minutes=30))
    assert chart.points[-1].bucket == at(2026, 11, 5, 10)


def test_a_p95_chart_reads_the_duration_rollups_per_hour(client_a):
    for seconds in (1.0, 2.0, 3.0, 40.0):
        log(client_a, at(2026, 11, 5, 9, 30), execution_time_seconds=seconds)
    log(client_a, at(2026, 11, 5, 10, 1), execution_time_seconds=5.0)
    monitor = MonitorFactory(client=client_a, metric=Metric.P95_EXECUTION)
    alert = AlertFactory(monitor=monitor, opened_at=OPENED, baseline_median=3.0)
    chart = alert_chart(client=client_a, alert=alert, now=at(2026, 12, 1))
    by_hour = {p.bucket: p for p in chart.points}
    # p95 of 1, 2, 3, 40 s (percentile_cont): 34.45 s, read within 2 %.
    assert by_hour[at(2026, 11, 5, 9)].value == pytest.approx(34.45, rel=0.02)
    assert by_hour[at(2026, 11, 5, 9)].samples == 4
    assert by_hour[at(2026, 11, 5, 10)].value == pytest.approx(5.0, rel=0.02)
    assert chart.kind == "approx_seconds"


def test_a_volume_band_per_six_hour_window_is_drawn_per_hour(client_a):
    monitor = MonitorFactory(client=client_a, metric=Metric.VOLUME, window_minutes=360)
    alert = AlertFactory(
        monitor=monitor, baseline_median=60.0, baseline_low=30.0, baseline_high=90.0
    )
    chart = alert_chart(client=client_a, alert=alert)
    assert (chart.median, chart.low, chart.high) == (10.0, 5.0, 15.0)


def test_duration_series_matches_duration_histograms_bucket_by_bucket(client_a):
    for minute, seconds in ((5, 1.5), (50, 7.0), (65, 12.0), (130, 0.4), (131, 90.0)):
        log(
            client_a,
            at(2026, 11, 5, 8) + dt.timedelta(minutes=minute),
            execution_time_seconds=seconds,
        )
    scope = reads.Scope(client_id=client_a.pk)
    # Whole hours and a bucket that ends inside an hour (read raw).
    buckets = [
        reads.Span(at(2026, 11, 5, 8), at(2026, 11, 5, 9)),
        reads.Span(at(2026, 11, 5, 9), at(2026, 11, 5, 10)),
        reads.Span(at(2026, 11, 5, 10), at(2026, 11, 5, 10, 10, 30)),
    ]
    assert reads.duration_series(scope, buckets) == reads.duration_histograms(scope, buckets)
    assert sum(reads.duration_series(scope, buckets)[2].values()) == 1


def test_alert_page_is_bounded_to_a_page_of_alerts_each_with_a_chart(client_a):
    monitor = MonitorFactory(client=client_a)
    for hours in range(ALERTS_PER_PAGE + 3):
        AlertFactory(
            monitor=monitor,
            state=AlertState.RESOLVED,
            opened_at=OPENED - dt.timedelta(hours=hours),
        )
    AlertFactory(monitor=monitor, opened_at=OPENED - dt.timedelta(days=9))
    first = alert_page(client=client_a)
    assert len(first.rows) == ALERTS_PER_PAGE
    assert first.rows[0].alert.state == AlertState.OPEN
    assert all(row.chart is not None for row in first.rows)
    assert (first.open_count, first.acknowledged_count) == (1, 0)
    last = alert_page(client=client_a, page="2")
    assert len(last.rows) == 4
    # Not a number: the first page; past the end: the last page (never an error).
    assert alert_page(client=client_a, page="x").page.number == 1
    assert alert_page(client=client_a, page="99").page.number == 2


# Markers and versions --------------------------------------------------------------------


def test_version_first_hours_are_the_earliest_hour_with_runs_of_each_version(client_a):
    log(client_a, at(2026, 11, 2, 10, 30), workflow_version="v1")
    log(client_a, at(2026, 11, 2, 9, 59), workflow_version="v1", environment="staging")
    log(client_a, at(2026, 11, 4, 14, 10), workflow_version="v2")
    log(client_a, at(2026, 11, 4, 16, 0), workflow_version="v2")
    log(client_a, at(2026, 11, 4, 17, 0), workflow_version="")
    scope = reads.Scope(client_id=client_a.pk)
    assert reads.version_first_hours(scope) == {
        "v1": at(2026, 11, 2, 9),
        "v2": at(2026, 11, 4, 14),
    }
    production = reads.Scope(client_id=client_a.pk, environment="production")
    assert reads.version_first_hours(production)["v1"] == at(2026, 11, 2, 10)
    # As of a moment: what had not appeared yet is not there.
    assert reads.version_first_hours(scope, until=at(2026, 11, 4, 14)) == {"v1": at(2026, 11, 2, 9)}


def test_markers_show_alerts_and_new_versions_in_the_window_only(client_a, client_b):
    log(client_a, at(2026, 10, 20, 8), workflow_version="v1")
    log(client_a, at(2026, 11, 4, 14, 10), workflow_version="v2")
    log(client_b, at(2026, 11, 4, 15), workflow_version="v9")
    AlertFactory(monitor__client=client_a, opened_at=OPENED)
    AlertFactory(monitor__client=client_a, opened_at=at(2026, 10, 1))  # before the window
    AlertFactory(monitor__client=client_b, opened_at=OPENED)
    found = chart_markers(client=client_a, start=at(2026, 11, 1), end=at(2026, 11, 11))
    markers = found.markers
    assert found.alerts_opened == 1 and found.alerts_not_drawn == 0
    assert [(m.kind, m.at, m.label) for m in markers] == [
        ("version", at(2026, 11, 4, 14), "version v2 first seen"),
        ("alert", OPENED, "alert: success rate (production)"),
    ]
    version = markers[0]
    assert version.previous == "v1"
    assert version.url == "/dashboard/acme/compare/?dimension=version&a=v1&b=v2"


def test_a_version_markers_link_carries_the_dashboards_period(client_a):
    log(client_a, at(2026, 10, 20, 8), workflow_version="v1")
    log(client_a, at(2026, 11, 4, 14, 10), workflow_version="v2")
    (version,) = chart_markers(
        client=client_a,
        start=at(2026, 11, 1),
        end=at(2026, 11, 11),
        compare_query={"period": "custom", "start": "2026-11-01", "end": "2026-11-10"},
    ).versions
    assert version.url == (
        "/dashboard/acme/compare/?dimension=version&a=v1&b=v2"
        "&period=custom&start=2026-11-01&end=2026-11-10"
    )


def test_more_alerts_than_are_drawn_are_counted_in_full(client_a):
    monitor = MonitorFactory(client=client_a)
    extra = 7
    for i in range(MARKER_ALERTS_MAX + extra):
        AlertFactory(
            monitor=monitor,
            opened_at=OPENED - dt.timedelta(minutes=i),
            state=AlertState.RESOLVED,
            environment=f"e{i}",
        )
    found = chart_markers(client=client_a, start=at(2026, 11, 1), end=at(2026, 11, 11))
    assert len(found.alerts) == MARKER_ALERTS_MAX
    assert found.alerts_opened == MARKER_ALERTS_MAX + extra
    assert found.alerts_not_drawn == extra
    # The newest are the ones drawn.
    assert max(m.at for m in found.alerts) == OPENED


def test_a_clients_first_version_is_not_marked_as_a_new_one(client_a):
    log(client_a, at(2026, 11, 3, 8), workflow_version="v1")
    found = chart_markers(client=client_a, start=at(2026, 11, 1), end=at(2026, 11, 11))
    assert found.markers == [] and found.alerts_opened == 0


def test_an_environment_filter_keeps_that_environments_alerts_and_all_environment_ones(
    client_a,
):
    monitor = MonitorFactory(client=client_a)
    AlertFactory(monitor=monitor, opened_at=OPENED, environment="production")
    AlertFactory(monitor=monitor, opened_at=OPENED, environment="staging")
    AlertFactory(monitor=MonitorFactory(client=client_a), opened_at=OPENED, environment="")
    markers = chart_markers(
        client=client_a, start=at(2026, 11, 1), end=at(2026, 11, 11), environment="staging"
    ).markers
    assert sorted(m.label for m in markers) == [
        "alert: success rate",
        "alert: success rate (staging)",
    ]


def test_compare_url_carries_the_dashboards_period_and_may_leave_the_previous_open(client_a):
    assert compare_url(client=client_a, previous=None, version="v1", extra={"period": "7d"}) == (
        "/dashboard/acme/compare/?dimension=version&b=v1&period=7d"
    )
