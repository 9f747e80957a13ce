"""The query-string forms: every value a person can type is either read or refused clearly."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.forms import DATE_RANGE_MESSAGE, OFFSET_MESSAGE, DashboardFilterForm, LogFilterForm

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "query",
    [
        {"period": "custom", "start": "9999-12-30", "end": "9999-12-31"},
        {"period": "custom", "start": "0001-01-01", "end": "0001-01-02"},
        {"period": "custom", "start": "0001-01-01", "end": "0002-01-02"},
        {"period": "custom", "start": "1969-12-31", "end": "1970-01-02"},
    ],
)
def test_a_dashboard_range_off_the_supported_calendar_is_a_form_error(query):
    """Such ranges used to overflow (end day + 1, previous window) into a 500."""
    form = DashboardFilterForm(query)
    assert not form.is_valid()
    assert DATE_RANGE_MESSAGE in str(form.errors)
    # The page then falls back to the default period.
    window = form.filters(now=NOW).window
    assert window.end - window.start == dt.timedelta(days=30)


def test_a_dashboard_range_at_the_edges_of_the_calendar_is_read():
    form = DashboardFilterForm({"period": "custom", "start": "2999-12-01", "end": "2999-12-31"})
    assert form.is_valid(), form.errors
    window = form.filters(now=NOW).window
    assert window.end == dt.datetime(3000, 1, 1, tzinfo=dt.UTC)
    assert window.previous.start == dt.datetime(2999, 10, 31, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "query",
    [
        {"end": "9999-12-31"},
        {"start": "0001-01-01"},
        {"start": "0001-01-01T00:00+05:00"},
        {"end": "9999-12-31T23:00-05:00"},
        {"start": "3000-01-01T00:00"},
    ],
)
def test_a_log_filter_date_off_the_supported_calendar_is_a_form_error(query):
    form = LogFilterForm(query)
    assert not form.is_valid()
    assert DATE_RANGE_MESSAGE in str(form.errors)


def test_log_filter_dates_with_offsets_are_read_as_instants():
    form = LogFilterForm({"start": "2026-11-01T10:00+02:00", "end": "2026-11-02"})
    assert form.is_valid(), form.errors
    filters = form.filters()
    assert filters.start == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    assert filters.end == dt.datetime(2026, 11, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "text", ["2026-11-30T00:00+16:00", "2026-11-30T00:00-16:00", "2026-11-30T00:00+23:59"]
)
def test_a_log_filter_time_with_an_offset_past_15_59_is_a_form_error(text):
    """PostgreSQL refuses such offsets: the log list answered 500 and exports broke off."""
    for name in ("start", "end"):
        form = LogFilterForm({name: text})
        assert not form.is_valid()
        assert form.errors[name] == [OFFSET_MESSAGE]


def test_a_log_filter_time_at_the_widest_offset_is_read_in_utc():
    form = LogFilterForm({"start": "2026-11-30T00:00+15:59"})
    assert form.is_valid(), form.errors
    assert form.filters().start == dt.datetime(2026, 11, 29, 8, 1, tzinfo=dt.UTC)
    assert form.filters().start.utcoffset() == dt.timedelta(0)
