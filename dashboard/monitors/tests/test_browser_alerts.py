"""The alerts page in a real browser (Debian's Chromium) against a live server, on the demo
data with alerts opened as the monitors open them. Saves the page to test-artifacts/, and
to docs/screenshots/alerts.png with UPDATE_DOCS_SCREENSHOTS=1."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from collector.models import Client
from collector.readmodel import reads
from collector.tests.factories import WorkflowLogFactory
from dashboard.monitors.metrics import metric_value
from dashboard.monitors.models import Metric
from dashboard.monitors.services.alerts import alert_acknowledge, alert_open, alert_resolve
from dashboard.monitors.tests.factories import MonitorFactory
from dashboard.tests.test_browser import SCREENSHOTS, browser, demo, log_in, page, shot  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
DOCS_SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "alerts.png"
expect.set_options(timeout=20_000)


def _drift_and_alerts(client: Client) -> dict[str, object]:
    """A drift in the last two hours (failures on top of the demo's normal traffic) and
    three alerts on it as the engine would record them: one open, one acknowledged, one
    resolved by itself; baselines are the client's own last four weeks."""
    now = timezone.now()
    for minutes in range(5, 120, 4):
        WorkflowLogFactory(
            client=client,
            timestamp=now - dt.timedelta(minutes=minutes),
            status="FAILED" if minutes % 3 else "ESCALATED",
            environment="production",
            workflow_version="v1.2",
            execution_time_seconds=38.0,
        )
    scope = reads.Scope(client_id=client.pk, environment="production")
    (month,) = reads.totals(scope, [reads.Span(now - dt.timedelta(days=28), now)])
    (hour,) = reads.totals(scope, [reads.Span(now - dt.timedelta(hours=1), now)])
    normal = metric_value(Metric.SUCCESS_RATE, month).value or 0.85
    seen = metric_value(Metric.SUCCESS_RATE, hour)
    success = alert_open(
        monitor=MonitorFactory(client=client, metric=Metric.SUCCESS_RATE),
        environment="production",
        at=now - dt.timedelta(minutes=50),
        window_start=now - dt.timedelta(minutes=110),
        window_end=now - dt.timedelta(minutes=50),
        value=seen.value,
        sample_size=seen.samples,
        baseline_median=normal,
        baseline_low=max(normal - 0.07, 0),
        baseline_high=min(normal + 0.05, 1),
        p_value=0.00004,
        last_value=seen.value,
    )
    escalation = alert_open(
        monitor=MonitorFactory(client=client, metric=Metric.ESCALATION_RATE),
        environment="production",
        at=now - dt.timedelta(minutes=40),
        window_start=now - dt.timedelta(minutes=100),
        window_end=now - dt.timedelta(minutes=40),
        value=0.21,
        sample_size=seen.samples,
        baseline_median=0.06,
        baseline_low=0.02,
        baseline_high=0.11,
        p_value=0.003,
    )
    p95 = alert_open(
        monitor=MonitorFactory(client=client, metric=Metric.P95_EXECUTION, window_minutes=360),
        environment="production",
        at=now - dt.timedelta(days=2, hours=3),
        window_start=now - dt.timedelta(days=2, hours=9),
        window_end=now - dt.timedelta(days=2, hours=3),
        value=31.0,
        sample_size=54,
        baseline_median=14.0,
        baseline_low=9.5,
        baseline_high=19.0,
    )
    alert_resolve(alert=p95, now=now - dt.timedelta(days=2, hours=1))
    return {"success": success, "escalation": escalation}


def test_a_client_user_opens_the_alerts_page_and_acknowledges_an_alert(
    live_server,
    page,  # noqa: F811 (the imported fixture)
    demo,  # noqa: F811
):
    client = Client.objects.get(slug="aurora-home")
    alerts = _drift_and_alerts(client)
    success = alerts["success"]
    # The owner took the escalation alert already.
    owner = get_user_model().objects.get(is_staff=True)
    alert_acknowledge(alert=alerts["escalation"], user=owner)

    base = live_server.url
    email, password = demo["client"]
    log_in(page, base, email, password)
    expect(page).to_have_url(f"{base}/dashboard/aurora-home/")
    # The nav counts the two unresolved alerts; its link opens the page.
    expect(page.get_by_test_id("nav-open-alerts")).to_have_text("2")
    page.get_by_test_id("nav-alerts").click()
    expect(page).to_have_url(f"{base}/dashboard/aurora-home/alerts/")

    items = page.locator("[data-testid=alert-list] > li")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_have_attribute("data-state", "open")
    expect(items.nth(1)).to_have_attribute("data-state", "acknowledged")
    expect(items.nth(2)).to_have_attribute("data-state", "resolved")
    # Every alert's chart is drawn by plotly.js.
    expect(page.locator("[data-testid=alert-chart] .js-plotly-plot")).to_have_count(3)
    expect(items.nth(2).get_by_test_id("alert-resolved")).to_contain_text("automatically")
    page.set_viewport_size({"width": 1280, "height": 1000})
    shot(page, "alerts", full_page=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):  # refresh the docs' copy on request only
        shutil.copyfile(SCREENSHOTS / "alerts.png", DOCS_SCREENSHOT)

    first = page.locator(f"li[data-alert='{success.pk}']")
    first.get_by_test_id("acknowledge").click()
    expect(page.locator(".message.success")).to_contain_text("Acknowledged: success rate")
    first = page.locator(f"li[data-alert='{success.pk}']")
    expect(first.get_by_test_id("alert-state")).to_have_text("acknowledged")
    expect(first.get_by_test_id("alert-acknowledged")).to_contain_text(f"by {email}")
    expect(first.get_by_test_id("acknowledge")).to_have_count(0)
    success.refresh_from_db()
    assert success.state == "acknowledged" and success.acknowledged_by.email == email

    # The logs link opens the log list of that window.
    first.get_by_test_id("alert-logs").click()
    expect(page.get_by_test_id("log-table")).to_be_visible()
    assert "environment=production" in page.url and "start=" in page.url
