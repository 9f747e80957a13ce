"""The selectors' numbers, checked against values computed by hand from fixed logs."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collector.readmodel.facts import DURATION_RELATIVE_ERROR
from collector.selectors import log_get
from collector.tests.factories import ClientFactory
from dashboard.selectors import (
    DashboardFilters,
    LogFilters,
    Window,
    client_distributions,
    client_errors,
    client_filter_options,
    client_get_for_user,
    client_kpis,
    client_list_for_user,
    client_overview_all_unscoped,
    client_time_series,
    log_export_queryset,
    log_page,
    log_runs_for_ticket,
)
from dashboard.selectors.logs import cursor_encode
from dashboard.tests.factories import MembershipFactory, UserFactory
from dashboard.tests.fixtures import WINDOW_END, WINDOW_START, at, log, seed_fixed_logs
from flusso_site.errors import ApplicationError

WINDOW = Window(WINDOW_START, WINDOW_END)


@pytest.fixture
def fixed(client_a, client_b):
    return seed_fixed_logs(client_a, client_b)


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-9)


def within_error(value: float) -> object:
    """A percentile read from the duration histogram: within its stated relative error."""
    return pytest.approx(value, rel=DURATION_RELATIVE_ERROR)


# Access -------------------------------------------------------------------------------


def test_client_list_for_user_is_memberships_for_users_and_everything_for_staff(
    client_a, client_b, user_a, owner
):
    assert list(client_list_for_user(user=user_a)) == [client_a]
    assert set(client_list_for_user(user=owner)) == {client_a, client_b}


def test_client_get_for_user_finds_no_client_of_someone_else(client_a, client_b, user_a):
    assert client_get_for_user(user=user_a, slug=client_a.slug) == client_a
    assert client_get_for_user(user=user_a, slug=client_b.slug) is None
    assert client_get_for_user(user=user_a, slug="no-such-client") is None


def test_inactive_user_sees_no_client(client_a):
    user = MembershipFactory(client=client_a, user__is_active=False).user
    assert list(client_list_for_user(user=user)) == []


def test_user_in_two_clients_sees_both(client_a, client_b):
    user = UserFactory()
    MembershipFactory(user=user, client=client_a)
    MembershipFactory(user=user, client=client_b)
    assert set(client_list_for_user(user=user)) == {client_a, client_b}


# KPIs -----------------------------------------------------------------------------------


def test_kpis_of_the_window_and_the_previous_one(fixed, client_a):
    kpis = client_kpis(client=client_a, filters=DashboardFilters(window=WINDOW))
    cur, prev = kpis.current, kpis.previous
    # L1, L2, L3, L4, L5, L10: the logs at the start and 1 s before the end count; the log
    # at the end does not, nor does the other client's.
    assert cur.runs == 6
    assert cur.successes == 3
    assert cur.success_rate == approx(0.5)
    assert cur.avg_confidence == approx((0.9 + 0.8 + 0.4 + 0.7 + 0.1) / 5)
    assert cur.avg_hallucination_risk == approx((0.1 + 0.2 + 0.6 + 0.3 + 0.5) / 5)
    assert cur.avg_react_iterations == approx((2 + 3 + 5 + 1 + 4) / 5)
    # Execution times sorted: 1, 2, 3, 4, 5, 10; percentiles within the histogram's error.
    assert cur.median_execution_seconds == within_error(3.5)
    assert cur.p95_execution_seconds == within_error(5 + 0.75 * (10 - 5))
    # Previous window: L7 (1 s before the start) and L8 (at the previous start).
    assert prev.runs == 2
    assert prev.success_rate == approx(0.5)
    assert prev.avg_confidence == approx(0.4)
    assert prev.median_execution_seconds == within_error(7.0)
    assert prev.p95_execution_seconds == within_error(6 + 0.95 * 2)


def test_kpis_honour_environment_and_version_filters(fixed, client_a):
    production = client_kpis(
        client=client_a, filters=DashboardFilters(window=WINDOW, environment="production")
    ).current
    assert production.runs == 5
    assert production.success_rate == approx(2 / 5)
    assert production.avg_confidence == approx((0.9 + 0.8 + 0.4 + 0.7) / 4)
    assert production.median_execution_seconds == within_error(3.0)  # 1, 2, 3, 4, 10
    assert production.p95_execution_seconds == within_error(4 + 0.8 * 6)
    v2 = client_kpis(client=client_a, filters=DashboardFilters(window=WINDOW, version="v2.0"))
    assert v2.current.runs == 1
    assert v2.current.median_execution_seconds == within_error(5.0)
    assert v2.previous.runs == 0


def test_kpis_of_an_empty_window_are_empty_not_errors(client_a):
    kpis = client_kpis(client=client_a, filters=DashboardFilters(window=WINDOW))
    assert kpis.current.runs == 0
    assert kpis.current.success_rate is None
    assert kpis.current.median_execution_seconds is None
    assert kpis.current.avg_confidence is None


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([5.0], 0.95, 5.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0, 10.0], 0.95, 8.8),
        ([1.0, 2.0, 3.0, 4.0, 10.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0, 4.0, 10.0], 1.0, 10.0),
    ],
)
def test_percentiles_interpolate_like_percentile_cont_within_the_stated_error(
    client_a, values, fraction, expected
):
    for value in values:
        log(client_a, at(2026, 11, 2, 10), execution_time_seconds=value)
    log(client_a, at(2026, 11, 2, 10), execution_time_seconds=None)  # ignored, as SQL does
    kpis = client_kpis(client=client_a, filters=DashboardFilters(window=WINDOW)).current
    result = kpis.median_execution_seconds if fraction == 0.5 else None
    if fraction != 0.5:
        from collector.readmodel.facts import percentile_from_histogram
        from collector.readmodel.reads import Scope, duration_histograms

        (histogram,) = duration_histograms(Scope(client_id=client_a.pk), [WINDOW.span])
        result = percentile_from_histogram(histogram, fraction)
    assert result == pytest.approx(expected, rel=DURATION_RELATIVE_ERROR)


# Series ---------------------------------------------------------------------------------


def test_daily_series_counts_by_status_and_fills_empty_days(fixed, client_a):
    series = client_time_series(client=client_a, filters=DashboardFilters(window=WINDOW))
    assert [p.bucket.date() for p in series] == [dt.date(2026, 11, day) for day in range(1, 11)]
    totals = {p.bucket.day: p.total for p in series}
    assert totals == {1: 1, 2: 1, 3: 1, 4: 0, 5: 1, 6: 0, 7: 1, 8: 0, 9: 0, 10: 1}
    by_day = {p.bucket.day: p for p in series}
    assert by_day[5].by_status == {"SUCCESS": 0, "FAILED": 1, "ERROR": 0, "ESCALATED": 0}
    assert by_day[7].by_status["ERROR"] == 1
    assert by_day[10].by_status["ESCALATED"] == 1
    assert by_day[1].success_rate == approx(1.0)
    assert by_day[4].success_rate is None
    assert by_day[1].avg_confidence == approx(0.9)
    assert by_day[7].avg_confidence is None  # the ERROR run has no confidence


def test_short_windows_are_hourly(fixed, client_a):
    window = Window(at(2026, 11, 7, 12), at(2026, 11, 8, 12))
    series = client_time_series(client=client_a, filters=DashboardFilters(window=window))
    assert len(series) == 24
    assert series[0].bucket == at(2026, 11, 7, 12)
    counts = {p.bucket: p.total for p in series if p.total}
    assert counts == {at(2026, 11, 7, 23): 1}  # L4 at 23:59:59


def test_daily_buckets_follow_the_current_time_zone(client_a, settings):
    settings.TIME_ZONE = "Europe/Paris"
    # 23:30 UTC on Nov 2 is 00:30 on Nov 3 in Paris.
    log(client_a, at(2026, 11, 2, 23, 30))
    window = Window(at(2026, 10, 31, 23), at(2026, 11, 10, 23))  # Paris midnights
    series = client_time_series(client=client_a, filters=DashboardFilters(window=window))
    busy = [p.bucket for p in series if p.total]
    assert len(busy) == 1
    assert busy[0].date() == dt.date(2026, 11, 3)
    assert busy[0].utcoffset() == dt.timedelta(hours=1)


def test_execution_time_histogram_buckets_are_half_open(fixed, client_a):
    filters = DashboardFilters(window=WINDOW)
    buckets = client_distributions(client=client_a, filters=filters).execution_time
    counts = {b.label: b.count for b in buckets}
    # 1 -> [0,2); 2 and 3 -> [2,4); 4 and 5 -> [4,6); 10 -> [10,15)
    assert counts["0-2 s"] == 1
    assert counts["2-4 s"] == 2
    assert counts["4-6 s"] == 2
    assert counts["10-15 s"] == 1
    assert counts["≥ 60 s"] == 0
    assert sum(counts.values()) == 6


def test_calibration_is_success_rate_per_confidence_bucket(fixed, client_a):
    filters = DashboardFilters(window=WINDOW)
    buckets = client_distributions(client=client_a, filters=filters).calibration
    assert len(buckets) == 10
    by_low = {round(b.low, 1): (b.runs, b.successes) for b in buckets}
    assert by_low[0.1] == (1, 1)  # L10
    assert by_low[0.4] == (1, 0)  # L3
    assert by_low[0.7] == (1, 0)  # L5, escalated
    assert by_low[0.8] == (1, 1)  # L2
    assert by_low[0.9] == (1, 1)  # L1
    assert by_low[0.0] == (0, 0)
    assert buckets[0].success_rate is None


def test_calibration_counts_a_confidence_of_exactly_one_in_the_last_bucket(client_a):
    log(client_a, at(2026, 11, 2), overall_confidence=1.0)
    filters = DashboardFilters(window=WINDOW)
    buckets = client_distributions(client=client_a, filters=filters).calibration
    assert buckets[-1].runs == 1


def test_errors_by_type_and_node_with_last_seen(fixed, client_a):
    filters = DashboardFilters(window=WINDOW)
    by_type = client_errors(client=client_a, filters=filters).by_type
    assert [(g.key, g.count, g.last_seen) for g in by_type] == [
        ("RateLimitError", 1, at(2026, 11, 7, 23, 59, 59)),
        ("ToolTimeout", 1, at(2026, 11, 5, 8, 30)),
    ]
    by_node = client_errors(client=client_a, filters=filters).by_node
    assert [(g.key, g.count) for g in by_node] == [("planner", 1), ("react_agent", 1)]


def test_errors_are_ordered_by_count(client_a):
    for _ in range(3):
        log(client_a, at(2026, 11, 2), error_type="Zeta", error_node="n")
    log(client_a, at(2026, 11, 3), error_type="Alpha", error_node="n")
    by_type = client_errors(client=client_a, filters=DashboardFilters(window=WINDOW)).by_type
    assert [(g.key, g.count) for g in by_type] == [("Zeta", 3), ("Alpha", 1)]


def test_filter_options_list_the_environments_and_versions_seen(fixed, client_a):
    options = client_filter_options(client=client_a, window=WINDOW)
    assert options == {"environments": ["production", "staging"], "versions": ["v1.0", "v2.0"]}


# Owner overview ---------------------------------------------------------------------------

NOW = at(2026, 11, 20, 12)


def test_overview_counts_each_client_over_24h_7d_and_30d(client_a, client_b):
    log(client_a, NOW - dt.timedelta(hours=1))  # in all three
    log(client_a, NOW - dt.timedelta(hours=24, seconds=1), status="FAILED", error_type="E")
    log(client_a, NOW - dt.timedelta(days=6), overall_confidence=0.5)
    log(client_a, NOW - dt.timedelta(days=29))
    log(client_a, NOW - dt.timedelta(days=30, seconds=1))  # in none
    rows = {r.slug: r for r in client_overview_all_unscoped(now=NOW)}
    a = rows["acme"]
    assert (a.runs_24h, a.runs_7d, a.runs_30d) == (1, 3, 4)
    assert a.success_rate_24h == approx(1.0)
    assert a.success_rate_7d == approx(2 / 3)
    assert a.success_rate_30d == approx(3 / 4)
    assert a.errors_30d == 1
    assert a.avg_confidence_30d == approx((0.8 + 0.8 + 0.5 + 0.8) / 4)
    assert a.last_log_at == NOW - dt.timedelta(hours=1)
    b = rows["globex"]
    assert (b.runs_24h, b.runs_30d, b.last_log_at) == (0, 0, None)
    assert b.success_rate_30d is None


def test_overview_flags_a_client_that_went_silent(client_a, client_b):
    # acme sent 60 logs over 30 days (usual gap 12 h) and nothing for the last 5 days.
    for i in range(60):
        log(client_a, NOW - dt.timedelta(days=5) - dt.timedelta(hours=6 * i))
    # globex sends every hour and sent 30 minutes ago.
    for i in range(100):
        log(client_b, NOW - dt.timedelta(minutes=30) - dt.timedelta(hours=i))
    rows = {r.slug: r for r in client_overview_all_unscoped(now=NOW)}
    assert rows["acme"].is_silent
    assert rows["acme"].silent_since == dt.timedelta(days=5)
    assert not rows["globex"].is_silent


def test_overview_does_not_flag_a_client_that_never_sent_much(client_a):
    log(client_a, NOW - dt.timedelta(days=20))
    rows = client_overview_all_unscoped(now=NOW)
    assert not rows[0].is_silent


def test_overview_keeps_flagging_a_client_silent_for_more_than_30_days(client_a, client_b):
    """Its 30 days hold no runs, yet it normally sent logs: the warning must not vanish."""
    for i in range(60):
        log(client_a, NOW - dt.timedelta(days=40) - dt.timedelta(hours=6 * i))
    # globex stopped 29 days ago: only 3 of its runs are in the 30 days.
    for i in range(60):
        log(client_b, NOW - dt.timedelta(days=29) - dt.timedelta(hours=10 * i))
    rows = {r.slug: r for r in client_overview_all_unscoped(now=NOW)}
    assert rows["acme"].runs_30d == 0
    assert rows["acme"].silent_since == dt.timedelta(days=40)
    assert rows["globex"].runs_30d == 3
    assert rows["globex"].silent_since == dt.timedelta(days=29)


def test_overview_ignores_a_log_dated_in_the_future(client_a):
    """A client's clock (or a bug) must not make it look alive until that date."""
    for i in range(60):
        log(client_a, NOW - dt.timedelta(days=5) - dt.timedelta(hours=6 * i))
    log(client_a, NOW + dt.timedelta(days=365))
    row = client_overview_all_unscoped(now=NOW)[0]
    assert row.last_log_at == NOW - dt.timedelta(days=5)
    assert row.silent_since == dt.timedelta(days=5)


def test_overview_does_not_flag_a_deactivated_client(client_a):
    for i in range(60):
        log(client_a, NOW - dt.timedelta(days=5) - dt.timedelta(hours=6 * i))
    client_a.is_active = False
    client_a.save(update_fields=["is_active"])
    assert not client_overview_all_unscoped(now=NOW)[0].is_silent


def test_overview_runs_a_fixed_number_of_queries(client_a, client_b):
    """The same queries for two clients as for eight: none per client."""

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            client_overview_all_unscoped(now=NOW)
        return len(context)

    for client in (client_a, client_b):
        log(client, NOW - dt.timedelta(hours=2))
    two = queries()
    for index in range(6):
        client = ClientFactory(slug=f"more-{index}")
        for hours in range(index + 1):
            log(client, NOW - dt.timedelta(hours=hours * 3 + 1))
    # 9 queries, and 2 for the judged-correct column (its counts and their edges).
    assert queries() == two <= 12


# Logs ---------------------------------------------------------------------------------------


def test_log_page_walks_every_log_once_with_ties_on_time(client_a):
    same = at(2026, 11, 2, 12)
    created = [log(client_a, same) for _ in range(5)] + [
        log(client_a, at(2026, 11, 1, h)) for h in range(7)
    ]
    seen: list[int] = []
    cursor = ""
    pages = 0
    while True:
        page = log_page(client=client_a, filters=LogFilters(), cursor=cursor, size=5)
        seen += [row.pk for row in page.rows]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert len(seen) == len(set(seen)) == len(created)
    expected = sorted(created, key=lambda r: (r.timestamp, r.pk), reverse=True)
    assert seen == [r.pk for r in expected]


def test_log_page_goes_back_with_the_prev_cursor(client_a):
    for h in range(12):
        log(client_a, at(2026, 11, 1, h))
    first = log_page(client=client_a, filters=LogFilters(), size=5)
    assert first.prev_cursor is None
    second = log_page(client=client_a, filters=LogFilters(), cursor=first.next_cursor, size=5)
    back = log_page(client=client_a, filters=LogFilters(), cursor=second.prev_cursor, size=5)
    assert [r.pk for r in back.rows] == [r.pk for r in first.rows]
    assert back.prev_cursor is None
    assert back.next_cursor is not None


def test_log_page_sorts_by_a_metric_with_missing_values_last(client_a):
    low = log(client_a, at(2026, 11, 1), overall_confidence=0.2)
    high = log(client_a, at(2026, 11, 2), overall_confidence=0.9)
    missing = log(client_a, at(2026, 11, 3), overall_confidence=None)
    mid = log(client_a, at(2026, 11, 4), overall_confidence=0.5)
    filters = LogFilters(sort="-confidence")
    first = log_page(client=client_a, filters=filters, size=2)
    rest = log_page(client=client_a, filters=filters, cursor=first.next_cursor, size=2)
    assert [r.pk for r in first.rows + rest.rows] == [high.pk, mid.pk, low.pk, missing.pk]
    ascending = log_page(client=client_a, filters=LogFilters(sort="confidence"), size=10)
    assert [r.pk for r in ascending.rows] == [missing.pk, low.pk, mid.pk, high.pk]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "eyJ4IjogMX0",  # {"x": 1}
        cursor_encode(sort="-confidence", value=0.5, pk=1, direction="next"),  # other sort
        cursor_encode(sort="-time", value="yesterday", pk=1, direction="next"),
        cursor_encode(sort="-time", value="2026-11-01T00:00:00+00:00", pk=1, direction="up"),
        # Hand-edited cursors: each used to reach the query and fail there with a 500.
        cursor_encode(sort="-time", value="2026-13-01T00:00:00+00:00", pk=1, direction="next"),
        cursor_encode(sort="-time", value="2026-11-01T00:00:00", pk=1, direction="next"),
        cursor_encode(sort="-time", value="0001-01-01T00:00:00+05:00", pk=1, direction="next"),
        cursor_encode(sort="-time", value="2026-11-01T00:00:00+00:00", pk=10**30, direction="next"),
        cursor_encode(sort="-time", value="2026-11-01T00:00:00+00:00", pk=-1, direction="next"),
        cursor_encode(sort="-time", value="2026-11-01T00:00:00+00:00", pk=1.5, direction="next"),
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_log_page_rejects_a_cursor_it_did_not_make(client_a, cursor):
    with pytest.raises(ApplicationError, match="page link"):
        log_page(client=client_a, filters=LogFilters(), cursor=cursor)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), 10**400, True, "0.5", None],
    ids=["nan", "inf", "huge", "bool", "text", "null"],
)
def test_log_page_rejects_a_metric_cursor_whose_value_is_not_a_finite_number(client_a, value):
    cursor = cursor_encode(sort="-confidence", value=value, pk=1, direction="next")
    with pytest.raises(ApplicationError, match="page link"):
        log_page(client=client_a, filters=LogFilters(sort="-confidence"), cursor=cursor)


def test_log_page_rejects_an_unknown_sort(client_a):
    with pytest.raises(ApplicationError):
        log_page(client=client_a, filters=LogFilters(sort="document"))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (LogFilters(status="FAILED"), {"L3"}),
        (LogFilters(environment="staging"), {"L10"}),
        (LogFilters(version="v2.0"), {"L10"}),
        (LogFilters(ticket_id="T3"), {"L3", "L4"}),
        (LogFilters(error_type="ToolTimeout"), {"L3"}),
        (LogFilters(error_node="planner"), {"L4"}),
        (LogFilters(confidence_min=0.7, confidence_max=0.8), {"L2", "L5"}),
        (LogFilters(start=WINDOW_START, end=WINDOW_END), {"L1", "L2", "L3", "L4", "L5", "L10"}),
    ],
)
def test_log_filters(fixed, client_a, filters, expected):
    in_window = LogFilters(**{**filters.__dict__, "start": WINDOW_START, "end": WINDOW_END})
    names = {name for name, row in fixed.items() if row.client_id == client_a.id}
    by_pk = {fixed[name].pk: name for name in names}
    page = log_page(client=client_a, filters=in_window, size=100)
    assert {by_pk[r.pk] for r in page.rows} == expected
    exported = log_export_queryset(client=client_a, filters=in_window)
    assert {by_pk[pk] for pk in exported.values_list("pk", flat=True)} == expected


def test_the_detail_pages_log_is_scoped_to_the_client(fixed, client_a, client_b):
    assert log_get(client=client_a, log_id=fixed["L1"].log_id) == fixed["L1"]
    assert log_get(client=client_b, log_id=fixed["L1"].log_id) is None
    assert log_get(client=client_a, log_id=uuid.uuid4()) is None


def test_runs_for_ticket_lists_other_runs_of_the_same_ticket_only(fixed, client_a):
    runs = log_runs_for_ticket(client=client_a, log=fixed["L3"])
    assert [r.pk for r in runs] == [fixed["L4"].pk]


def test_daily_buckets_start_at_local_midnight_across_a_daylight_saving_change(client_a, settings):
    settings.TIME_ZONE = "Europe/Paris"
    # Paris leaves summer time on 2026-10-25: that day has 25 hours.
    log(client_a, at(2026, 10, 25, 22, 30))  # 23:30 on Oct 25 in Paris (UTC+1)
    log(client_a, at(2026, 10, 26, 23, 30))  # 00:30 on Oct 27 in Paris
    window = Window(at(2026, 10, 23, 22), at(2026, 10, 28, 23))  # Oct 24 .. Oct 28, Paris
    series = client_time_series(client=client_a, filters=DashboardFilters(window=window))
    assert [(p.bucket.day, p.bucket.hour) for p in series] == [(d, 0) for d in range(24, 29)]
    assert {p.bucket.day: p.total for p in series} == {24: 0, 25: 1, 26: 0, 27: 1, 28: 0}


def test_a_rolling_period_marks_its_first_and_current_buckets_as_partial(client_a):
    now = at(2026, 11, 20, 14, 30)
    window = Window(now - dt.timedelta(days=7), now)
    series = client_time_series(client=client_a, filters=DashboardFilters(window=window))
    assert [p.partial for p in series] == [True, *([False] * 6), True]
    # Nov 13 from 14:30, and the current day up to now.
    assert series[0].covered == (window.start, at(2026, 11, 14))
    assert series[-1].covered == (at(2026, 11, 20), now)


def test_a_custom_range_of_whole_days_has_no_partial_bucket(client_a):
    series = client_time_series(client=client_a, filters=DashboardFilters(window=WINDOW))
    assert not any(p.partial for p in series)
    hourly = Window(at(2026, 11, 7, 12), at(2026, 11, 7, 15, 20))
    series = client_time_series(client=client_a, filters=DashboardFilters(window=hourly))
    assert [p.partial for p in series] == [False, False, False, True]
    assert series[-1].covered == (at(2026, 11, 7, 15), at(2026, 11, 7, 15, 20))


def test_client_silence_applies_the_overview_rule_to_one_client(client_a, client_b):
    from dashboard.selectors import client_silence

    for i in range(60):
        log(client_a, NOW - dt.timedelta(days=5) - dt.timedelta(hours=6 * i))
    for i in range(100):
        log(client_b, NOW - dt.timedelta(minutes=30) - dt.timedelta(hours=i))
    assert client_silence(client=client_a, now=NOW) == dt.timedelta(days=5)
    assert client_silence(client=client_b, now=NOW) is None
    rows = {r.slug: r for r in client_overview_all_unscoped(now=NOW)}
    assert rows["acme"].silent_since == client_silence(client=client_a, now=NOW)
