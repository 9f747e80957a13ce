"""Formatting for the comparison page: intervals, differences and p-values."""

from __future__ import annotations

from django import template

from dashboard.monitors.statistics_compare import Estimate
from dashboard.selectors.compare import MetricComparison
from dashboard.templatetags.dashboard_format import DASH, kpi, kpi_change

register = template.Library()


@register.filter
def interval(estimate: Estimate, kind: str) -> str:
    """ "[0.84, 0.91]"; an open side (too few runs to bound it) reads as "?"."""
    if estimate.value is None:
        return ""
    low = kpi(estimate.low, kind) if estimate.low is not None else "?"
    high = kpi(estimate.high, kind) if estimate.high is not None else "?"
    return f"[{low}, {high}]"


@register.filter
def difference(row: MetricComparison) -> str:
    """b - a: points for rates, as the dashboard's changes. The distribution row adds the
    tested effect: the share of (A run, B run) pairs where B's run is the slower, ties
    counted half (50 %: neither side tends to be slower)."""
    if row.difference is None:
        return DASH
    change = kpi_change(
        {"change": row.difference, "previous": row.a.value, "kind": row.kind, "value": row.b.value}
    )
    if row.family == "distribution" and row.test.difference is not None:
        return f"{change} · P(B slower) {kpi(row.test.difference + 0.5, 'pct')}"
    return change


@register.filter
def p_value(value: float | None) -> str:
    if value is None:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
