"""The verdict form, and the review queue's state as it travels in links."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import QueryDict

from dashboard.forms import DashboardFilterForm
from dashboard.reviews.models import BETTER_ANSWER_MAX_CHARS, NOTE_MAX_CHARS, VerdictKind
from dashboard.selectors import DashboardFilters

# A seed is any 31-bit number: the sample it draws is the same for the same link.
MAX_SEED = 2**31 - 1
# The longest queue (four tiers of dashboard.reviews.selectors.QUEUE_TIER_SIZE) is far
# below this; a larger position is a hand-edited link.
MAX_POSITION = 1000
# The encoded queue state a form or link carries (a few filters and numbers).
MAX_QUEUE_QUERY = 1000


class VerdictForm(forms.Form):
    kind = forms.ChoiceField(
        choices=VerdictKind.choices,
        widget=forms.RadioSelect,
        label="Verdict",
        error_messages={"required": "Choose a verdict."},
    )
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional. E-mail addresses and secrets are masked before it is stored.",
    )
    better_answer = forms.CharField(
        required=False,
        max_length=BETTER_ANSWER_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional, for an incorrect answer: what it should have said.",
    )
    queue = forms.CharField(required=False, max_length=MAX_QUEUE_QUERY, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (data.get("better_answer") or "").strip() and data.get("kind") != VerdictKind.INCORRECT:
            self.add_error("better_answer", "A better answer goes only with an incorrect verdict.")
        return data


class ReviewQueueForm(DashboardFilterForm):
    """The dashboard's period, environment and version, plus what pins the sample: the
    seed of its draws and the moment a preset period ends (``at``, Unix seconds)."""

    seed = forms.IntegerField(required=False, min_value=0, max_value=MAX_SEED)
    at = forms.IntegerField(required=False, min_value=0, max_value=32503680000)  # year 3000
    pos = forms.IntegerField(required=False, min_value=0, max_value=MAX_POSITION)


@dataclass(frozen=True)
class QueueState:
    filters: DashboardFilters
    seed: int
    at: int
    position: int
    # The period, environment and version as given (valid), for the links.
    params: dict[str, str]

    def query(self, *, position: int | None = None) -> str:
        """The state as a query string, at ``position`` when given."""
        values = {**self.params, "seed": str(self.seed), "at": str(self.at)}
        if position is not None:
            values["pos"] = str(position)
        return urlencode(values)


def queue_state_parse(data: QueryDict, *, now: dt.datetime) -> tuple[QueueState, ReviewQueueForm]:
    """The queue's state from a query string. Invalid filters fall back to the default
    period (as on the dashboard, the form lists them); a missing seed is drawn, a missing
    or future ``at`` is now, so the first page of a queue pins its own sample."""
    form = ReviewQueueForm(data)
    valid = form.is_valid()
    cleaned = form.cleaned_data if valid else {}
    now_seconds = int(now.timestamp())
    at = cleaned.get("at")
    if at is None or at > now_seconds:
        at = now_seconds
    seed = cleaned.get("seed")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    filters = form.filters(now=dt.datetime.fromtimestamp(at, tz=dt.UTC))
    params: dict[str, str] = {}
    if valid:
        params["period"] = cleaned["period"]
        if cleaned["period"] == "custom":
            params["start"] = cleaned["start"].isoformat()
            params["end"] = cleaned["end"].isoformat()
        for name in ("environment", "version"):
            if cleaned.get(name):
                params[name] = cleaned[name]
    state = QueueState(
        filters=filters,
        seed=seed,
        at=at,
        position=cleaned.get("pos") or 0,
        params=params,
    )
    return state, form


def queue_state_from_param(value: str, *, now: dt.datetime) -> QueueState | None:
    """The state a detail page's ``?queue=`` carries, or None without one."""
    if not value or len(value) > MAX_QUEUE_QUERY:
        return None
    state, _ = queue_state_parse(QueryDict(value), now=now)
    return state
