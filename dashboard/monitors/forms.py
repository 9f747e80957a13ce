"""Query-string forms of the report pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from dashboard.forms import BoundedDateField
from dashboard.monitors.selectors.reports import last_complete_week, week_is_over, week_monday


class ReportWeekForm(forms.Form):
    """``?week=YYYY-MM-DD``: any day of the week, read as its Monday; empty: the last
    complete week. A week that has not ended yet has no report (its numbers would still
    change): the form refuses it, as it does a malformed date."""

    week = BoundedDateField(required=False, input_formats=["%Y-%m-%d"])

    def __init__(self, *args: Any, now: dt.datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        self.normalised_from: dt.date | None = None

    def clean_week(self) -> dt.date:
        day = self.cleaned_data.get("week")
        if day is None:
            return last_complete_week(self.now)
        monday = week_monday(day)
        if monday != day:
            self.normalised_from = day
        if monday > self.now.astimezone(dt.UTC).date():
            raise forms.ValidationError("That week has not started yet.", code="future")
        if not week_is_over(monday, self.now):
            last = last_complete_week(self.now)
            raise forms.ValidationError(
                f"The week of {monday} is not over yet, so its report is not complete; "
                f"the last complete week is the week of {last}.",
                code="not_over",
            )
        return monday
