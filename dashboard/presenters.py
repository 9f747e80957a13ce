"""What the pages show, computed from what the selectors return: plain functions, no HTTP.

A selector reads (in the database, from the read model); a presenter arranges its result
for a page (the owner overview's order and totals row, the client dashboard's KPI cards
and their trends); the view parses the request, calls both, and renders.
"""

from __future__ import annotations

from typing import Any

from collector.readmodel.facts import DURATION_RELATIVE_ERROR
from dashboard.selectors.overview import ClientOverviewRow
from dashboard.selectors.stats import Kpis, _rate
from dashboard.templatetags.dashboard_format import change_rounds_to_zero

# The owner overview ----------------------------------------------------------------------

# The overview's sortable columns: ClientOverviewRow's fields and properties that the
# page shows (a query string's sort is one of these, or "-" and one of these).
OVERVIEW_SORTS = {
    "name",
    "runs_24h",
    "runs_7d",
    "runs_30d",
    "success_rate_24h",
    "success_rate_7d",
    "success_rate_30d",
    "avg_confidence_30d",
    "errors_30d",
    "last_log_at",
    "open_alerts",
    "judged_correct_rate_30d",
}
OVERVIEW_DEFAULT_SORT = "name"


def overview_sorted(
    rows: list[ClientOverviewRow], *, sort: str
) -> tuple[list[ClientOverviewRow], str]:
    """The rows in the order ``sort`` asks ("-" first: descending), and the sort applied:
    an unknown column sorts by name. Names sort case-insensitively; a missing value (no
    runs) sorts last whichever the direction."""
    key = sort.lstrip("-")
    if key not in OVERVIEW_SORTS:
        sort, key = OVERVIEW_DEFAULT_SORT, OVERVIEW_DEFAULT_SORT
    descending = sort.startswith("-")

    def sort_key(row: ClientOverviewRow) -> tuple[bool, Any]:
        value = getattr(row, key)
        if isinstance(value, str):
            value = value.lower()
        return (value is None) != descending, value if value is not None else 0

    return sorted(rows, key=sort_key, reverse=descending), sort


def overview_totals(rows: list[ClientOverviewRow]) -> dict[str, float | int | None]:
    """The all-clients row: sums, success rates of the sums, and the average confidence
    over every client's runs (each client weighed by its runs with a confidence)."""
    totals: dict[str, float | int | None] = {
        name: sum(getattr(r, name) for r in rows)
        for name in (
            "runs_24h",
            "successes_24h",
            "runs_7d",
            "successes_7d",
            "runs_30d",
            "successes_30d",
            "errors_30d",
            "open_alerts",
        )
    }
    for span in ("24h", "7d", "30d"):
        totals[f"success_rate_{span}"] = _rate(
            int(totals[f"successes_{span}"] or 0), int(totals[f"runs_{span}"] or 0)
        )
    confidence_runs = sum(r.confidence_runs_30d for r in rows)
    totals["avg_confidence_30d"] = (
        sum(r.confidence_sum_30d for r in rows) / confidence_runs if confidence_runs else None
    )
    return totals


# The client dashboard's KPI cards --------------------------------------------------------

# Percentiles come from the read model's duration histogram (docs/dashboard.md).
APPROX = f"within {DURATION_RELATIVE_ERROR:.0%}, from a histogram"


def kpi_cards(kpis: Kpis) -> list[dict[str, Any]]:
    """The cards in page order: (label, values, format, whether up is good).

    A change is coloured only when it shows as non-zero at the card's precision; when the
    previous period has no runs at all, no card compares (the page says so once).
    """
    cur, prev = kpis.current, kpis.previous
    specs = [
        ("Runs", "runs", "int", True, "workflow runs; a ticket run twice counts twice"),
        ("Success rate", "success_rate", "pct", True, f"{cur.successes:,} successful runs"),
        # Neutral: an escalation is right or wrong only against a verdict.
        ("Escalation rate", "escalation_rate", "pct", None, f"{cur.escalations:,} escalated"),
        ("Avg confidence", "avg_confidence", "ratio", True, ""),
        ("Avg hallucination risk", "avg_hallucination_risk", "ratio", False, ""),
        ("Median execution time", "median_execution_seconds", "approx_seconds", False, APPROX),
        ("p95 execution time", "p95_execution_seconds", "approx_seconds", False, APPROX),
        ("Avg ReAct iterations", "avg_react_iterations", "decimal", None, ""),
    ]
    compare = prev.runs > 0
    cards = []
    for label, name, kind, up_is_good, note in specs:
        current, previous = getattr(cur, name), getattr(prev, name)
        change = None
        if compare and current is not None and previous is not None:
            change = current - previous
        card = {
            "key": name,
            "label": label,
            "value": current,
            "previous": previous,
            "change": change,
            "compare": compare,
            "kind": kind,
            "trend": "",
            "note": note,
        }
        if change and up_is_good is not None and not change_rounds_to_zero(card):
            card["trend"] = "good" if (change > 0) == up_is_good else "bad"
        cards.append(card)
    return cards
