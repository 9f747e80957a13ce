"""The Notifications account page: alert e-mails (off by default) and the weekly report
(on by default), saved per user, and what the fan-out makes of them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import NotificationSettings
from dashboard.monitors.selectors.notifications import notification_settings_get
from dashboard.monitors.services.alerts import alert_open
from dashboard.monitors.services.deliveries import deliveries_run
from dashboard.monitors.tests.factories import MonitorFactory
from dashboard.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/accounts/notifications/"


@pytest.fixture
def ann():
    return MembershipFactory(client=ClientFactory(slug="acme"), user__email="ann@acme.example").user


@pytest.fixture
def http(ann) -> HttpClient:
    http = HttpClient()
    http.force_login(ann)
    return http


def test_the_page_is_named_and_needs_a_login():
    assert reverse("account_notifications") == URL
    response = HttpClient().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def checked(html: str, name: str) -> bool:
    (tag,) = re.findall(rf'<input type="checkbox" name="{name}"[^>]*>', html)
    return " checked" in tag


def test_a_user_who_never_saved_sees_the_defaults_and_no_row_is_made(http, ann):
    html = http.get(URL).content.decode()
    assert not checked(html, "alert_emails") and checked(html, "weekly_report")
    assert not NotificationSettings.objects.exists()
    defaults = notification_settings_get(user=ann)
    assert (defaults.alert_emails, defaults.weekly_report) == (False, True)


def test_the_page_shows_what_was_saved(http, ann):
    NotificationSettings.objects.create(user=ann, alert_emails=True, weekly_report=False)
    html = http.get(URL).content.decode()
    assert checked(html, "alert_emails") and not checked(html, "weekly_report")


def test_saving_creates_the_row_then_updates_it(http, ann):
    response = http.post(URL, {"alert_emails": "on", "weekly_report": "on"})
    assert response.status_code == 302 and response["Location"] == URL
    row = NotificationSettings.objects.get(user=ann)
    assert (row.alert_emails, row.weekly_report) == (True, True)
    http.post(URL, {})  # both boxes unticked
    row.refresh_from_db()
    assert (row.alert_emails, row.weekly_report) == (False, False)
    assert NotificationSettings.objects.count() == 1
    assert "Your notification settings are saved." in http.get(URL).content.decode()


def test_the_account_menu_links_to_the_page(http):
    assert f'href="{URL}"' in http.get("/dashboard/acme/").content.decode()


def test_opting_in_on_the_page_is_what_gets_alert_mails(http, ann):
    now = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    monitor = MonitorFactory(client=ann.memberships.get().client)

    def open_and_run(at):
        alert_open(
            monitor=monitor, environment=str(at), at=at, window_start=at, window_end=at, value=0.4
        )
        return deliveries_run(now=at)

    assert open_and_run(now) == 0  # off by default
    http.post(URL, {"alert_emails": "on"})
    assert open_and_run(now + dt.timedelta(hours=1)) == 1
    assert mail.outbox[0].to == ["ann@acme.example"]


# --- In a real browser -------------------------------------------------------------------


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls here never
    # touch it (as in dashboard/tests/conftest.py).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    from dashboard.tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


@pytest.mark.django_db(transaction=True)
def test_a_user_turns_alert_emails_on_from_the_account_menu(ann, live_server, page):
    from playwright.sync_api import expect

    from dashboard.tests.factories import PASSWORD

    user = ann
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/dashboard/acme/")

    page.click(".account >> text=Notifications")
    expect(page).to_have_url(f"{base}{URL}")
    expect(page.locator("#id_alert_emails")).not_to_be_checked()
    expect(page.locator("#id_weekly_report")).to_be_checked()
    page.check("#id_alert_emails")
    page.click("form[data-testid=notification-settings] button[type=submit]")

    expect(page.locator(".messages")).to_contain_text("Your notification settings are saved.")
    # Saved, not just ticked: a fresh load shows it. (No ORM call here: inside Playwright's
    # event loop it would open a connection of its own that outlives the test.)
    page.reload()
    expect(page.locator("#id_alert_emails")).to_be_checked()
    expect(page.locator("#id_weekly_report")).to_be_checked()
