"""Formatting for the dashboard templates: numbers, changes, durations and sort links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.http import QueryDict
from django.utils import timezone

register = template.Library()

DASH = "—"


@register.filter
def pct(value: float | None, digits: int = 1) -> str:
    """0.8123 -> "81.2%"."""
    if value is None:
        return DASH
    return f"{value * 100:.{digits}f}%"


@register.filter
def ratio(value: float | None) -> str:
    """0.8123 -> "0.81"."""
    return DASH if value is None else f"{value:.2f}"


@register.filter
def seconds(value: float | None) -> str:
    if value is None:
        return DASH
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s" if value >= 10 else f"{value:.2f} s"


@register.filter
def approx_seconds(value: float | None) -> str:
    """A percentile read from the duration histogram (within 2 %): two significant digits,
    so the page shows no precision it does not have."""
    if value is None:
        return DASH
    if value >= 60:
        return f"{value / 60:.2g} min"
    return f"{value:.2g} s"


@register.filter
def kpi(value: Any, kind: str) -> str:
    if value is None:
        return DASH
    if kind == "int":
        return f"{round(value):,}"
    if kind == "pct":
        return pct(value)
    if kind == "ratio":
        return ratio(value)
    if kind == "seconds":
        return seconds(value)
    if kind == "approx_seconds":
        return approx_seconds(value)
    return f"{value:.1f}"


def _shown_seconds(value: float, kind: str) -> float:
    """A duration as its card shows it (``seconds`` or ``approx_seconds``), in seconds."""
    if kind == "approx_seconds":
        return float(f"{value / 60:.2g}") * 60 if value >= 60 else float(f"{value:.2g}")
    if value >= 60:
        return round(value / 60, 1) * 60
    return round(value, 1) if value >= 10 else round(value, 2)


def _change_size(change: float, previous: float, kind: str) -> str:
    """The size of a change at the precision its card shows."""
    size = abs(change)
    if kind in ("seconds", "approx_seconds") and previous is not None:
        # The change between the values as shown: 4.60 s and 4.62 s both read "4.6 s" on
        # a two-digit card, so their change is none, not "+0.02 s" coloured.
        size = abs(_shown_seconds(previous + change, kind) - _shown_seconds(previous, kind))
        if size == 0:
            return "0 s"
    if kind == "pct":
        return f"{size * 100:.1f} pts"
    if kind == "int":
        return f"{size / previous * 100:.0f}%" if previous else f"{size:,}"
    if kind == "ratio":
        return f"{size:.2f}"
    if kind == "seconds":
        return seconds(size)
    if kind == "approx_seconds":
        return approx_seconds(size)
    return f"{size:.1f}"


def change_rounds_to_zero(card: dict[str, Any]) -> bool:
    """Whether the card's change shows as zero at the card's precision (then it is neutral:
    neither good nor bad, whatever its sign before rounding)."""
    change = card["change"]
    if change is None:
        return False
    text = _change_size(change, card["previous"], card["kind"])
    return not any(ch in "123456789" for ch in text)


@register.filter
def kpi_change(card: dict[str, Any]) -> str:
    """The change against the previous period: points for rates, relative for counts."""
    change, previous, kind = card["change"], card["previous"], card["kind"]
    if change is None:
        # Either side may be missing (no runs, or none with the metric).
        return "no data in this period" if card["value"] is None else "no previous value"
    text = _change_size(change, previous, kind)
    # A change that rounds to zero shows no direction.
    if change_rounds_to_zero(card):
        return f"\u00b1{text}"
    return ("+" if change > 0 else "\u2212") + text


@register.filter
def ago(moment: dt.datetime | None) -> str:
    """A short age such as "5 min ago" or "3 d ago"."""
    if moment is None:
        return "never"
    return f"{duration(timezone.now() - moment)} ago"


@register.filter
def duration(span: dt.timedelta | None) -> str:
    if span is None:
        return DASH
    total = int(span.total_seconds())
    if total < 60:
        return f"{max(total, 0)} s"
    if total < 3600:
        return f"{total // 60} min"
    if total < 86400:
        return f"{total // 3600} h"
    return f"{total // 86400} d"


@register.simple_tag
def sort_href(query: str, current: str, column: str) -> str:
    """The query string that sorts by ``column``; again on the same column flips it."""
    params = QueryDict(query, mutable=True)
    # Descending first (largest, newest); a second click on the column flips it.
    params["sort"] = column if current == f"-{column}" else f"-{column}"
    return "?" + params.urlencode()


@register.simple_tag
def sort_mark(current: str, column: str) -> str:
    if current == column:
        return "▲"
    if current == f"-{column}":
        return "▼"
    return ""


@register.simple_tag
def sort_state(current: str, column: str) -> str:
    """The column header's ``aria-sort``: how the table is sorted by it, if at all."""
    if current == column:
        return "ascending"
    if current == f"-{column}":
        return "descending"
    return "none"


@register.filter
def status_class(status: str) -> str:
    return f"status-{status.lower()}" if status else ""
