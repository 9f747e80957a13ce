"""The review queue in a real browser (Debian's Chromium): a verdict recorded with the
keyboard lands on the next run of the queue."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from collector.tests.factories import WorkflowLogFactory
from dashboard.reviews.models import Verdict
from dashboard.tests.factories import PASSWORD
from dashboard.tests.test_browser import browser, log_in, page, shot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_verdict_recorded_with_the_keyboard_from_the_queue_lands_on_the_next_run(
    live_server,
    page,  # noqa: F811 (the imported fixture)
    client_a,
    user_a,
):
    now = timezone.now()
    newer = WorkflowLogFactory(
        client=client_a, status="FAILED", timestamp=now - dt.timedelta(hours=1)
    )
    older = WorkflowLogFactory(
        client=client_a, status="ERROR", timestamp=now - dt.timedelta(hours=3)
    )
    WorkflowLogFactory(client=client_a, status="SUCCESS", overall_confidence=0.9)
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    base = live_server.url
    log_in(page, base, user_a.email, PASSWORD)
    page.click("nav.nav >> text=Review")
    expect(page.get_by_test_id("queue-row")).to_have_count(3)
    expect(page.get_by_test_id("queue-row").first).to_have_attribute(
        "data-log-id", str(newer.log_id)
    )
    shot(page, "review-queue")

    page.get_by_test_id("review-start").click()
    expect(page).to_have_url(re.compile(rf"/logs/{newer.log_id}/\?queue="))
    # "?" shows the shortcuts; the better answer shows only for "incorrect".
    expect(page.get_by_test_id("review-help")).to_be_hidden()
    page.keyboard.press("?")
    expect(page.get_by_test_id("review-help")).to_be_visible()
    expect(page.locator("[data-better-answer]")).to_be_hidden()
    page.get_by_test_id("verdict-kind-incorrect").click()
    expect(page.locator("[data-better-answer]")).to_be_visible()
    shot(page, "review-verdict")

    # "1" records "correct" and opens the queue's next run.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("1")
    expect(page).to_have_url(re.compile(rf"/logs/{older.log_id}/\?queue="))
    expect(page.get_by_test_id("verdict-none")).to_be_visible()
    verdict = Verdict.objects.get()
    assert (verdict.log_id, verdict.kind, verdict.author_id) == (newer.log_id, "correct", user_a.pk)

    # "n" skips to the next run without recording one.
    page.keyboard.press("n")
    expect(page).not_to_have_url(re.compile(rf"/logs/{older.log_id}/"))
    expect(page.get_by_test_id("verdict-none")).to_be_visible()
    assert Verdict.objects.count() == 1
    assert problems == []
