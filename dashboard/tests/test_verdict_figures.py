"""The dashboard's verdict figures: the selector against numbers worked out by hand, the
page showing them (and "not enough reviews"), and the calibration chart against verdicts."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
from django.urls import reverse

from dashboard import charts
from dashboard.reviews.services import verdict_record
from dashboard.selectors import DashboardFilters, Window
from dashboard.selectors.verdicts import (
    MIN_CALIBRATION_REVIEWS,
    MIN_REVIEWS,
    VerdictCalibrationBucket,
    client_verdict_figures,
)
from dashboard.tests.fixtures import CUSTOM_QUERY, WINDOW_END, WINDOW_START, at, log
from dashboard.tests.test_views import overview_cells, text_of

WINDOW = DashboardFilters(window=Window(WINDOW_START, WINDOW_END))


def judge(client, user, kind: str, count: int, *, day: int = 3, **fields) -> None:
    """``count`` runs in the custom window, each given the verdict ``kind``."""
    for i in range(count):
        run = log(client, at(2026, 11, day, 1 + i // 60, i % 60, 30), **fields)
        verdict_record(client=client, log_id=run.log_id, user=user, kind=kind)


@pytest.fixture
def reviewed(client_a, owner):
    """25 reviewed runs in the window: 20 successes judged correct (confidence 0.85),
    3 successes judged incorrect (0.35), 2 escalations judged needless (0.15); and outside
    the window or in another environment, verdicts the figures must not count."""
    judge(client_a, owner, "correct", 20, overall_confidence=0.85)
    judge(client_a, owner, "incorrect", 3, day=4, overall_confidence=0.35)
    judge(
        client_a,
        owner,
        "escalated_needlessly",
        2,
        day=5,
        status="ESCALATED",
        overall_confidence=0.15,
    )
    judge(client_a, owner, "incorrect", 4, day=20)  # after the window
    judge(client_a, owner, "incorrect", 1, day=6, environment="staging")


def test_the_figures_equal_the_numbers_worked_out_by_hand(client_a, reviewed):
    figures = client_verdict_figures(client=client_a, filters=WINDOW)
    assert (figures.reviewed, figures.judged_correct) == (26, 20)
    assert figures.enough
    assert figures.share == pytest.approx(20 / 26)
    # Wilson, z = 1.96, 20 of 26: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
    assert figures.low == pytest.approx(0.5795, abs=1e-4)
    assert figures.high == pytest.approx(0.8897, abs=1e-4)
    assert (figures.successes_reviewed, figures.successes_incorrect) == (24, 4)
    assert (figures.escalations_reviewed, figures.needless_escalations) == (2, 2)
    by_label = {b.label: (b.reviewed, b.correct) for b in figures.calibration}
    assert by_label["0.8-0.9"] == (21, 20)  # with the staging run (0.8)
    assert by_label["0.3-0.4"] == (3, 0)
    assert by_label["0.1-0.2"] == (2, 0)
    assert sum(b.reviewed for b in figures.calibration) == 26


def test_the_environment_filter_applies_to_the_verdicts(client_a, reviewed):
    staging = DashboardFilters(window=WINDOW.window, environment="staging")
    figures = client_verdict_figures(client=client_a, filters=staging)
    assert (figures.reviewed, figures.judged_correct, figures.successes_incorrect) == (1, 0, 1)
    assert not figures.enough


def test_the_dashboard_shows_the_share_its_interval_and_the_counts(http_a, client_a, reviewed):
    html = http_a.get(reverse("dashboard:client", args=[client_a.slug]), CUSTOM_QUERY).content
    html = html.decode()
    assert text_of(html, "verdict-share") == "76.9%"
    assert text_of(html, "verdict-interval") == (
        "95% interval 57.9%\u201389.0%, 20 of 26 reviewed runs"
    )
    assert text_of(html, "verdict-successes-incorrect") == "4"
    assert text_of(html, "verdict-needless-escalations") == "2"
    # 26 verdicts with a confidence: below the calibration chart's minimum.
    assert f"from {MIN_CALIBRATION_REVIEWS} reviewed runs with a confidence (26 so far)" in html
    assert 'data-testid="verdict-calibration"' not in html


def test_below_the_minimum_the_dashboard_says_not_enough_reviews(http_a, client_a, owner):
    judge(client_a, owner, "correct", MIN_REVIEWS - 1)
    html = http_a.get(reverse("dashboard:client", args=[client_a.slug]), CUSTOM_QUERY)
    html = html.content.decode()
    assert text_of(html, "verdict-share") == "not enough reviews"
    assert text_of(html, "verdict-reviewed") == (
        f"{MIN_REVIEWS - 1} reviewed runs; the share is shown from {MIN_REVIEWS}"
    )
    assert 'data-testid="verdict-interval"' not in html


def test_without_any_verdict_the_dashboard_says_so(http_a, client_a):
    log(client_a, at(2026, 11, 3))
    html = http_a.get(reverse("dashboard:client", args=[client_a.slug]), CUSTOM_QUERY)
    assert "No run of this period has a verdict yet" in html.content.decode()


def test_the_calibration_chart_appears_with_enough_verdicts(http_a, client_a, owner):
    judge(client_a, owner, "correct", MIN_CALIBRATION_REVIEWS - 5, overall_confidence=0.95)
    judge(client_a, owner, "incorrect", 5, day=4, overall_confidence=0.45)
    html = http_a.get(reverse("dashboard:client", args=[client_a.slug]), CUSTOM_QUERY)
    html = html.content.decode()
    assert 'data-testid="verdict-calibration"' in html
    assert "Calibration against verdicts" in html


def test_another_clients_verdicts_never_show(http_a, client_a, client_b, owner):
    log(client_a, at(2026, 11, 3))
    judge(client_b, owner, "incorrect", MIN_REVIEWS)
    html = http_a.get(reverse("dashboard:client", args=[client_a.slug]), CUSTOM_QUERY)
    assert "No run of this period has a verdict yet" in html.content.decode()


def test_the_calibration_figure_plots_the_share_with_its_counts_and_fades_small_bars():
    buckets = [
        VerdictCalibrationBucket(low=0.7, high=0.8, reviewed=3, correct=1),
        VerdictCalibrationBucket(low=0.8, high=0.9, reviewed=40, correct=30),
        VerdictCalibrationBucket(low=0.9, high=1.0, reviewed=0, correct=0),
    ]
    bars, diagonal = charts.verdict_calibration_figure(buckets)["data"]
    assert bars["x"] == ["0.7-0.8", "0.8-0.9", "0.9-1.0"]
    assert bars["y"] == [pytest.approx(1 / 3), 0.75, None]
    assert bars["text"] == ["3", "40", ""]
    assert bars["marker"]["opacity"] == [0.4, 1.0, 0.4]
    assert diagonal["y"] == [pytest.approx(0.75), pytest.approx(0.85), pytest.approx(0.95)]
    assert 'class="plotly-chart"' in charts.to_div(charts.verdict_calibration_figure(buckets))


def test_the_owner_overview_shows_each_clients_judged_correct_share(
    http_owner, client_a, client_b, owner
):
    now = at(2026, 11, 20, 12)
    for i in range(4):
        run = log(client_a, now - dt.timedelta(days=2, minutes=i))
        kind = "correct" if i < 3 else "incorrect"
        verdict_record(client=client_a, log_id=run.log_id, user=owner, kind=kind)
    old = log(client_a, now - dt.timedelta(days=40))  # outside the 30 days
    verdict_record(client=client_a, log_id=old.log_id, user=owner, kind="incorrect")
    log(client_b, now - dt.timedelta(days=1))
    with mock.patch("django.utils.timezone.now", return_value=now):
        html = http_owner.get(reverse("dashboard:home")).content.decode()
    cell = overview_cells(html, client_a.slug)["judged_correct_rate_30d"]
    assert re.sub(r"<[^>]+>", " ", cell).split() == ["75.0%", "of", "4"]
    assert overview_cells(html, client_b.slug)["judged_correct_rate_30d"] == "\u2014"
