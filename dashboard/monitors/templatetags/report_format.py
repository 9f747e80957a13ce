"""Formatting for the weekly report (page and e-mail): values and their changes."""

from __future__ import annotations

from django import template

from dashboard.monitors.selectors.reports import MetricRow
from dashboard.templatetags.dashboard_format import kpi, kpi_change

register = template.Library()


@register.filter
def report_value(value: float | None, kind: str) -> str:
    return kpi(value, kind)


@register.filter
def report_change(row: MetricRow, against: str) -> str:
    """The change against "previous" (last week) or "normal" (the 4-week median):
    points for rates, relative for counts, as on the dashboard's cards."""
    reference = row.previous if against == "previous" else row.normal
    change = row.change_previous if against == "previous" else row.change_normal
    if reference is None:
        return "no data" if against == "previous" else "no normal yet"
    return kpi_change(
        {"change": change, "previous": reference, "kind": row.kind, "value": row.value}
    )


@register.filter
def report_trend(row: MetricRow, against: str) -> str:
    """ "good", "bad" or "" (no direction is better, or no change)."""
    change = row.change_previous if against == "previous" else row.change_normal
    if not change or row.up_is_good is None:
        return ""
    return "good" if (change > 0) == row.up_is_good else "bad"
