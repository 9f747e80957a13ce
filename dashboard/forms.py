"""Query-string filters of the dashboard pages, parsed and validated into selector inputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from collector.models import LogStatus
from collector.search import MAX_QUERY_CHARS
from dashboard.selectors import DashboardFilters, LogFilters, Window
from dashboard.selectors.logs import DEFAULT_SORT, SORT_FIELDS

PERIODS = {
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
    "90d": dt.timedelta(days=90),
}
DEFAULT_PERIOD = "30d"
# A custom range is bounded so one page never aggregates more than two years.
MAX_CUSTOM_DAYS = 731
# Dates a filter accepts. Far enough inside Python's calendar (years 1-9999) that a window,
# its previous window (up to MAX_CUSTOM_DAYS earlier), an end day's midnight and any UTC
# offset stay on it: outside, the arithmetic overflowed into a 500.
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {EARLIEST_DATE} and {LATEST_DATE}."
# The widest UTC offset PostgreSQL takes in a timestamp (Python takes up to 23:59); no
# time zone on Earth is past ±14:00.
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)
OFFSET_MESSAGE = "Enter a UTC offset between -15:59 and +15:59."


def _check_date_range(day: dt.date) -> None:
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise forms.ValidationError(DATE_RANGE_MESSAGE, code="out_of_range")


class BoundedDateField(forms.DateField):
    """A date between EARLIEST_DATE and LATEST_DATE."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None:
            _check_date_range(value)


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the current time zone, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class LooseDateTimeField(forms.CharField):
    """A date ("2026-11-20") or a date and time ("2026-11-20T09:00", offset optional).

    ``clean`` returns (aware datetime, whether only a date was given), so an end date can
    include its whole day.
    """

    def to_python(self, value: Any) -> tuple[dt.datetime, bool] | None:
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            day = parse_date(text)
            if day is not None:
                _check_date_range(day)
                return _day_start(day), True
            moment = parse_datetime(text.replace(" ", "T", 1))
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError(
                "Enter a date as YYYY-MM-DD or a time as YYYY-MM-DD HH:MM.", code="invalid"
            )
        _check_date_range(moment.date())
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        elif abs(moment.utcoffset() or dt.timedelta()) > MAX_UTC_OFFSET:
            raise forms.ValidationError(OFFSET_MESSAGE, code="offset_out_of_range")
        # An instant: compared and sent to the database in UTC.
        return moment.astimezone(dt.UTC), False


class DashboardFilterForm(forms.Form):
    """``?period=24h|7d|30d|90d`` or ``?period=custom&start=…&end=…`` (end day included)."""

    period = forms.ChoiceField(
        choices=[*((p, p) for p in PERIODS), ("custom", "custom")], required=False
    )
    start = BoundedDateField(required=False)
    end = BoundedDateField(required=False)
    environment = forms.CharField(required=False, max_length=64)
    version = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        period = data.get("period") or DEFAULT_PERIOD
        if period == "custom" or (data.get("start") and not data.get("period")):
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom range needs a start and an end date.")
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days >= MAX_CUSTOM_DAYS:
                raise forms.ValidationError(f"A range is at most {MAX_CUSTOM_DAYS} days long.")
            period = "custom"
        data["period"] = period
        return data

    def filters(self, *, now: dt.datetime) -> DashboardFilters:
        """The selector input; call after is_valid(). Invalid input falls back to defaults."""
        data = self.cleaned_data if self.is_valid() else {"period": DEFAULT_PERIOD}
        if data["period"] == "custom":
            window = Window(
                _day_start(data["start"]), _day_start(data["end"] + dt.timedelta(days=1))
            )
        else:
            window = Window(now - PERIODS[data["period"]], now)
        return DashboardFilters(
            window=window,
            environment=data.get("environment", ""),
            version=data.get("version", ""),
        )


SORT_CHOICES = [(f"{sign}{name}", f"{sign}{name}") for name in SORT_FIELDS for sign in ("", "-")]


class LogFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=MAX_QUERY_CHARS, label="Search")
    status = forms.ChoiceField(choices=[("", "any"), *LogStatus.choices], required=False)
    environment = forms.CharField(required=False, max_length=64)
    version = forms.CharField(required=False, max_length=64)
    start = LooseDateTimeField(required=False, label="From")
    end = LooseDateTimeField(required=False, label="To")
    ticket = forms.CharField(required=False, max_length=128, label="Ticket id")
    confidence_min = forms.FloatField(required=False, min_value=0, max_value=1)
    confidence_max = forms.FloatField(required=False, min_value=0, max_value=1)
    error_type = forms.CharField(required=False, max_length=128)
    error_node = forms.CharField(required=False, max_length=128)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    cursor = forms.CharField(required=False, max_length=512)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("confidence_min"), data.get("confidence_max")
        if low is not None and high is not None and low > high:
            self.add_error("confidence_max", "The maximum confidence is below the minimum.")
        start, end = data.get("start"), data.get("end")
        if start and end and self._end_moment(end) <= start[0]:
            self.add_error("end", "The end is not after the start.")
        return data

    @staticmethod
    def _end_moment(end: tuple[dt.datetime, bool]) -> dt.datetime:
        moment, date_only = end
        # A date alone as the end means "to the end of that day".
        return moment + dt.timedelta(days=1) if date_only else moment

    def filters(self) -> LogFilters:
        """The selector input; only valid after is_valid() returned True."""
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        return LogFilters(
            status=data.get("status") or "",
            environment=data.get("environment") or "",
            version=data.get("version") or "",
            start=start[0] if start else None,
            end=self._end_moment(end) if end else None,
            ticket_id=(data.get("ticket") or "").strip(),
            confidence_min=data.get("confidence_min"),
            confidence_max=data.get("confidence_max"),
            error_type=data.get("error_type") or "",
            error_node=data.get("error_node") or "",
            q=(data.get("q") or "").strip(),
            sort=data.get("sort") or DEFAULT_SORT,
        )


class TimeZoneForm(forms.Form):
    """The account page's time zone: an IANA name that zoneinfo knows, or blank for the
    service's default."""

    time_zone = forms.ChoiceField(
        required=False,
        label="Time zone",
        help_text="Every page shows times, and reads the dashboard's dates, in this zone.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from django.conf import settings

        from dashboard.selectors.preferences import time_zone_names

        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [
            ("", f"The service's default ({settings.TIME_ZONE})"),
            *((name, name.replace("_", " ")) for name in sorted(time_zone_names())),
        ]
