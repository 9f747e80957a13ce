"""The verdict figures in a real browser (Debian's Chromium): the calibration chart
against verdicts is drawn under the CSP, and the figures fit a phone's width."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.reviews.services import verdict_record
from dashboard.selectors.verdicts import MIN_CALIBRATION_REVIEWS
from dashboard.tests.factories import PASSWORD, MembershipFactory, UserFactory
from dashboard.tests.test_browser import browser, log_in, shot, strict_page  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def judged():
    """A client whose last days hold enough verdicts for every figure and the chart."""
    client = ClientFactory(slug="judged-co", name="Judged Co")
    member = MembershipFactory(client=client, user__email="rita@judged.example").user
    owner = UserFactory(email="boss@flusso.example", is_staff=True)
    start = timezone.now() - dt.timedelta(days=3)
    for i in range(MIN_CALIBRATION_REVIEWS + 10):
        status = "ESCALATED" if i % 10 == 0 else "SUCCESS"
        run = WorkflowLogFactory(
            client=client,
            timestamp=start + dt.timedelta(minutes=17 * i),
            status=status,
            overall_confidence=0.35 + (i % 7) / 10,
        )
        if status == "ESCALATED":
            kind = "escalated_needlessly" if i % 20 == 0 else "correct"
        else:
            kind = "incorrect" if i % 4 == 1 else "correct"
        verdict_record(client=client, log_id=run.log_id, user=owner, kind=kind)
    return client, member


def test_the_verdict_figures_and_their_chart_are_drawn_and_fit_a_phone(
    live_server,
    strict_page,  # noqa: F811 (the imported fixture, requested)
    judged,
):
    page, problems = strict_page
    client, member = judged
    base = live_server.url
    log_in(page, base, member.email, PASSWORD)
    expect(page).to_have_url(f"{base}/dashboard/{client.slug}/")
    figures = page.get_by_test_id("verdict-figures")
    expect(figures).to_be_visible()
    expect(page.get_by_test_id("verdict-share")).to_have_text("70.0%")
    expect(page.get_by_test_id("verdict-needless-escalations")).to_have_text("3")
    expect(
        page.locator("[data-testid=verdict-calibration] .js-plotly-plot .main-svg").first
    ).to_be_visible()
    page.set_viewport_size({"width": 1400, "height": 900})
    shot(page, "verdict-figures")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(figures).to_be_visible()
    width = page.evaluate(
        "document.querySelector('[data-testid=verdict-figures]').getBoundingClientRect().right"
    )
    assert width <= 390
    shot(page, "verdict-figures-narrow")
    assert problems == [], "\n".join(problems)
