"""The dashboard's template filters: numbers and changes as a reader expects them."""

from __future__ import annotations

import pytest

from dashboard.templatetags.dashboard_format import change_rounds_to_zero, kpi_change


def card(value, previous, kind="pct"):
    change = None if value is None or previous is None else value - previous
    return {"value": value, "previous": previous, "change": change, "kind": kind}


@pytest.mark.parametrize(
    ("value", "previous", "text"),
    [
        (0.5, None, "no previous value"),
        (None, 0.5, "no data in this period"),
        (None, None, "no data in this period"),
        (0.5, 0.4, "+10.0 pts"),
        (0.4, 0.5, "\u221210.0 pts"),
        (0.5, 0.5, "\u00b10.0 pts"),
    ],
)
def test_kpi_change_says_which_side_is_missing(value, previous, text):
    assert kpi_change(card(value, previous)) == text


def test_kpi_change_of_a_count_is_relative_and_absolute_from_zero():
    assert kpi_change(card(15, 10, "int")) == "+50%"
    assert kpi_change(card(5, 0, "int")) == "+5"


def test_a_change_that_rounds_to_zero_at_the_shown_precision_is_zero_without_sign():
    tiny = card(0.50004, 0.5)
    assert change_rounds_to_zero(tiny)
    assert kpi_change(tiny) == "\u00b10.0 pts"
    assert not change_rounds_to_zero(card(0.5006, 0.5))
    assert kpi_change(card(0.5006, 0.5)) == "+0.1 pts"
    assert not change_rounds_to_zero(card(0.5, None))


@pytest.mark.parametrize(
    ("value", "previous", "kind", "text", "neutral"),
    [
        # Both read "4.6 s" on a two-digit card: no change, not "+1e-07 s" coloured.
        (4.6000001, 4.6, "approx_seconds", "\u00b10 s", True),
        (11.92, 11.90, "approx_seconds", "\u00b10 s", True),
        (4.7, 4.6, "approx_seconds", "+0.1 s", False),
        (100.0, 70.0, "approx_seconds", "+30 s", False),
        # Both read "11.9 s" on a one-decimal card.
        (11.92, 11.90, "seconds", "\u00b10 s", True),
        (4.61, 4.60, "seconds", "+0.01 s", False),
    ],
)
def test_a_duration_change_is_measured_between_the_values_as_shown(
    value, previous, kind, text, neutral
):
    assert kpi_change(card(value, previous, kind)) == text
    assert change_rounds_to_zero(card(value, previous, kind)) is neutral
