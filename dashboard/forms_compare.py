"""The comparison page's query string: ``?dimension=version|environment|period&a=…&b=…``.

For version and environment, ``a`` and ``b`` are names over the dashboard's period
(``period``, or ``start``/``end``: as ``DashboardFilterForm``); for period, each is a
range of days ``YYYY-MM-DD..YYYY-MM-DD`` (the end day included, in the site's time zone).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from collector.readmodel.reads import Span
from dashboard.forms import (
    DATE_RANGE_MESSAGE,
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_CUSTOM_DAYS,
    DashboardFilterForm,
    _day_start,
)
from dashboard.selectors.compare import DIMENSIONS, CompareQuery

RANGE_MESSAGE = "Enter a period as YYYY-MM-DD..YYYY-MM-DD (the end day included)."


def parse_range(text: str) -> tuple[dt.date, dt.date]:
    """ "2026-05-01..2026-05-31" -> the two dates; ValidationError when it is not one."""
    start_text, separator, end_text = text.strip().partition("..")
    try:
        start, end = dt.date.fromisoformat(start_text), dt.date.fromisoformat(end_text)
    except ValueError:
        raise forms.ValidationError(RANGE_MESSAGE, code="invalid") from None
    if not separator:
        raise forms.ValidationError(RANGE_MESSAGE, code="invalid")
    for day in (start, end):
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise forms.ValidationError(DATE_RANGE_MESSAGE, code="out_of_range")
    if end < start:
        raise forms.ValidationError("The period ends before it starts.", code="reversed")
    if (end - start).days >= MAX_CUSTOM_DAYS:
        raise forms.ValidationError(f"A period is at most {MAX_CUSTOM_DAYS} days long.")
    return start, end


def range_span(start: dt.date, end: dt.date) -> Span:
    return Span(_day_start(start), _day_start(end + dt.timedelta(days=1)))


class CompareForm(DashboardFilterForm):
    dimension = forms.ChoiceField(choices=[(d, d) for d in DIMENSIONS], required=False)
    a = forms.CharField(required=False, max_length=64, strip=True)
    b = forms.CharField(required=False, max_length=64, strip=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["dimension"] = data.get("dimension") or "version"
        a, b = data.get("a") or "", data.get("b") or ""
        if data["dimension"] == "period":
            for name, value in (("a", a), ("b", b)):
                if value:
                    try:
                        data[f"range_{name}"] = parse_range(value)
                    except forms.ValidationError as exc:
                        self.add_error(name, exc)
            if "range_a" in data and "range_b" in data:
                # Compared as the days they cover, not as text: 20260101..20260107 is
                # 2026-01-01..2026-01-07. Overlapping periods share runs, and a test of
                # two samples that share runs is not a test of two samples.
                (start_a, end_a), (start_b, end_b) = data["range_a"], data["range_b"]
                if start_a <= end_b and start_b <= end_a:
                    first, last = max(start_a, start_b), min(end_a, end_b)
                    self.add_error(
                        "b",
                        f"The two periods overlap ({first}..{last} is in both): "
                        "choose periods that share no day.",
                    )
                return data
        if a and b and a == b:
            self.add_error("b", "Choose two different sides to compare.")
        return data

    @property
    def has_pair(self) -> bool:
        """Whether both sides are given (a first visit shows the form only)."""
        return bool(self.is_valid() and self.cleaned_data.get("a") and self.cleaned_data.get("b"))

    def query(self, *, now: dt.datetime | None = None) -> CompareQuery:
        """The selector input; only when has_pair."""
        data = self.cleaned_data
        window = self.filters(now=now or timezone.now()).window.span
        if data["dimension"] == "period":
            return CompareQuery(
                dimension="period",
                a=data["a"],
                b=data["b"],
                window=window,
                span_a=range_span(*data["range_a"]),
                span_b=range_span(*data["range_b"]),
            )
        return CompareQuery(dimension=data["dimension"], a=data["a"], b=data["b"], window=window)
