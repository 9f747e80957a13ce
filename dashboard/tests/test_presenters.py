"""The presenters: the overview's order and totals row, the KPI cards' trends, from plain
selector data (no database, no request)."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.presenters import kpi_cards, overview_sorted, overview_totals
from dashboard.selectors import ClientOverviewRow, Kpis
from dashboard.selectors.stats import KpiValues


def row(slug: str, **values) -> ClientOverviewRow:
    values.setdefault("name", slug.title())
    return ClientOverviewRow(client_id=len(slug), slug=slug, is_active=True, **values)


# The owner overview ----------------------------------------------------------------------


def test_the_overview_sorts_by_a_column_either_way():
    rows = [row("acme", runs_30d=3), row("globex", runs_30d=7), row("initech", runs_30d=5)]
    down, sort = overview_sorted(rows, sort="-runs_30d")
    assert [r.slug for r in down] == ["globex", "initech", "acme"]
    assert sort == "-runs_30d"
    up, _ = overview_sorted(rows, sort="runs_30d")
    assert [r.slug for r in up] == ["acme", "initech", "globex"]


def test_the_overview_sorts_names_without_regard_to_case():
    rows = [row("b", name="beta"), row("a", name="Alpha"), row("c", name="Gamma")]
    ordered, _ = overview_sorted(rows, sort="name")
    assert [r.name for r in ordered] == ["Alpha", "beta", "Gamma"]


@pytest.mark.parametrize("sort", ["last_log_at", "-last_log_at"])
def test_a_client_without_a_value_sorts_last_in_both_directions(sort):
    when = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    rows = [
        row("quiet"),
        row("old", last_log_at=when - dt.timedelta(days=2)),
        row("new", last_log_at=when),
    ]
    ordered, _ = overview_sorted(rows, sort=sort)
    assert ordered[-1].slug == "quiet"
    assert [r.slug for r in ordered[:2]] == (
        ["old", "new"] if sort == "last_log_at" else ["new", "old"]
    )


@pytest.mark.parametrize("sort", ["evil", "-document", ""])
def test_an_unknown_sort_falls_back_to_the_name(sort):
    rows = [row("globex"), row("acme")]
    ordered, applied = overview_sorted(rows, sort=sort)
    assert applied == "name"
    assert [r.slug for r in ordered] == ["acme", "globex"]


def test_the_totals_weigh_each_clients_confidence_by_its_runs():
    rows = [
        row("acme", runs_30d=3, successes_30d=3, confidence_sum_30d=2.4, confidence_runs_30d=3),
        row("globex", runs_30d=2, successes_30d=0, confidence_sum_30d=0.2, confidence_runs_30d=1),
    ]
    totals = overview_totals(rows)
    assert totals["runs_30d"] == 5
    assert totals["success_rate_30d"] == pytest.approx(0.6)
    # (2.4 + 0.2) / 4, not the mean of the two clients' averages (0.5).
    assert totals["avg_confidence_30d"] == pytest.approx(0.65)
    # No runs in a span: no rate, rather than 0%.
    assert totals["success_rate_24h"] is None


# KPI cards -------------------------------------------------------------------------------


def test_a_kpi_change_that_rounds_to_zero_is_neither_good_nor_bad():
    current = KpiValues(runs=10_000, successes=5_001, avg_confidence=0.8001)
    previous = KpiValues(runs=10_000, successes=5_000, avg_confidence=0.7)
    cards = {c["key"]: c for c in kpi_cards(Kpis(current=current, previous=previous))}
    # 50.01% against 50.00%: +0.01 pts shows as ±0.0 pts, so it is not coloured.
    assert cards["success_rate"]["change"] > 0
    assert cards["success_rate"]["trend"] == ""
    # A visible change keeps its colour.
    assert cards["avg_confidence"]["trend"] == "good"
