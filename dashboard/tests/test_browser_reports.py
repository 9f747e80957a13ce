"""The weekly report and the comparison page in a real browser (Debian's Chromium).

Saves the report and comparison pages to test-artifacts/screenshots/, and to the README's
docs/screenshots/ only with UPDATE_DOCS_SCREENSHOTS=1 (a test run must not change the tree).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from collector.services import logs_store
from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.monitors.models import AlertState, Metric
from dashboard.monitors.selectors.reports import last_complete_week
from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory
from dashboard.tests.factories import PASSWORD, MembershipFactory
from dashboard.tests.test_browser import browser, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)
DOCS_SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"


def _save(browser_page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser_page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):  # refresh the README's copy on request only
        shutil.copyfile(ARTIFACTS / name, DOCS_SCREENSHOTS / name)


expect.set_options(timeout=20_000)


def _weeks_of_logs(client, week: dt.date) -> None:
    """Five weeks: a steady v1.4 at ~92 % success, then v1.5 in the report's week at ~78 %."""
    rng = random.Random(4)
    for back in range(5, -1, -1):
        start = dt.datetime.combine(week - dt.timedelta(weeks=back), dt.time(), tzinfo=dt.UTC)
        version, success = ("v1.5", 0.78) if back == 0 else ("v1.4", 0.92)
        logs = []
        for i in range(120):
            roll = rng.random()
            status = "SUCCESS" if roll < success else ("ESCALATED" if roll < 0.95 else "FAILED")
            failed = status == "FAILED"
            logs.append(
                WorkflowLogFactory.build(
                    client=client,
                    timestamp=start + dt.timedelta(minutes=80 * i),
                    status=status,
                    workflow_version=version,
                    execution_time_seconds=rng.lognormvariate(1.4 if back else 1.6, 0.35),
                    overall_confidence=min(1.0, max(0.0, rng.gauss(0.82 if back else 0.74, 0.1))),
                    hallucination_risk=min(1.0, max(0.0, rng.gauss(0.1 if back else 0.16, 0.05))),
                    error_type=rng.choice(["ToolTimeout", "ToolTimeout", "ParseError"])
                    if failed
                    else "",
                    error_node=rng.choice(["catalog_search", "vision_match"]) if failed else "",
                )
            )
        logs_store(client_id=client.pk, logs=logs)


def _log_in(tab: Page, base: str, email: str) -> None:
    tab.goto(f"{base}/accounts/login/")
    tab.fill("#id_login", email)
    tab.fill("#id_password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{base}/dashboard/**")


def test_a_client_user_reads_the_weekly_report_and_compares_the_new_version(
    live_server,
    page,  # noqa: F811
):
    week = last_complete_week(timezone.now())
    acme = ClientFactory(slug="acme", name="Acme Plumbing")
    _weeks_of_logs(acme, week)
    opened = dt.datetime.combine(week + dt.timedelta(days=2), dt.time(10), tzinfo=dt.UTC)
    AlertFactory(
        monitor=MonitorFactory(client=acme),
        opened_at=opened,
        state=AlertState.RESOLVED,
        resolved_at=opened + dt.timedelta(hours=5),
    )
    AlertFactory(
        monitor=MonitorFactory(client=acme, metric=Metric.ESCALATION_RATE),
        opened_at=opened + dt.timedelta(days=2),
    )
    MembershipFactory(client=acme, user__email="ann@acme.example")
    base = live_server.url
    _log_in(page, base, "ann@acme.example")

    page.goto(f"{base}/dashboard/acme/report/")
    expect(page.get_by_role("heading", name="Weekly report: Acme Plumbing")).to_be_visible()
    expect(page.get_by_test_id("report-versions")).to_contain_text("v1.5")
    expect(page.get_by_test_id("report-alerts")).to_contain_text("escalation rate")
    _save(page, "report.png")
    # Printed, the page keeps the report and drops the navigation and buttons.
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.get_by_test_id("report-metrics")).to_be_visible()
    page.emulate_media(media="screen")
    page.get_by_test_id("previous-week").click()
    expect(page.get_by_test_id("report-versions")).to_contain_text("No new workflow version")

    # From the dashboard's version filter to the comparison with the previous version.
    page.goto(f"{base}/dashboard/acme/?period=90d&version=v1.5")
    page.get_by_test_id("compare-with").click()
    expect(page.get_by_test_id("comparison")).to_be_visible()
    expect(page.get_by_test_id("compare-a")).to_have_value("v1.4")
    expect(page.get_by_test_id("compare-b")).to_have_value("v1.5")
    expect(page.get_by_test_id("verdict-success_rate")).to_contain_text("significant")
    _save(page, "compare.png")
