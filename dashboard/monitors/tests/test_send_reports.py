"""send_reports: who is mailed which report, once per week, and the unsubscribe link."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.urls import reverse

from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.monitors.models import NotificationSettings, ReportDelivery
from dashboard.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

WEEK = dt.date(2026, 6, 1)
NEXT_WEEK = WEEK + dt.timedelta(weeks=1)


def at(week: dt.date, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(week + dt.timedelta(days=1), dt.time(9, minute), tzinfo=dt.UTC)


@pytest.fixture
def tenants():
    acme = ClientFactory(slug="acme", name="Acme Plumbing")
    globex = ClientFactory(slug="globex", name="Globex Outdoor")
    for i in range(3):
        WorkflowLogFactory(client=acme, timestamp=at(WEEK, i), status="SUCCESS")
    for i in range(7):
        WorkflowLogFactory(
            client=globex, timestamp=at(WEEK, i), status="FAILED", error_type="GlobexOnlyError"
        )
    ann = MembershipFactory(client=acme, user__email="ann@acme.example").user
    gus = MembershipFactory(client=globex, user__email="gus@globex.example").user
    owner = UserFactory(email="owner@flusso.example", is_staff=True)
    return {"acme": acme, "globex": globex, "ann": ann, "gus": gus, "owner": owner}


def run(*args: str) -> str:
    out = StringIO()
    call_command("send_reports", *args, stdout=out)
    return out.getvalue()


def sent_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def test_each_member_gets_their_clients_report_and_the_owner_the_owners(tenants):
    output = run("--week", WEEK.isoformat())

    assert "3 sent" in output
    (ann,) = sent_to("ann@acme.example")
    (gus,) = sent_to("gus@globex.example")
    (owner,) = sent_to("owner@flusso.example")
    assert ann.subject == "Flusso weekly report: Acme Plumbing, week of 2026-06-01"
    assert gus.subject == "Flusso weekly report: Globex Outdoor, week of 2026-06-01"
    assert owner.subject == "Flusso weekly report: all clients, week of 2026-06-01"
    assert "Runs: 3\n" in ann.body and "Success rate: 100.0%" in ann.body
    assert "Runs: 7\n" in gus.body and "GlobexOnlyError: 7" in gus.body
    assert "Acme Plumbing" in owner.body and "Globex Outdoor" in owner.body
    assert {d.email for d in ReportDelivery.objects.filter(week=WEEK)} == {
        "ann@acme.example",
        "gus@globex.example",
        "owner@flusso.example",
    }


def test_a_client_user_never_receives_another_clients_report(tenants):
    run("--week", WEEK.isoformat())
    (ann,) = sent_to("ann@acme.example")
    html = ann.alternatives[0][0]
    for text in (ann.body, html, ann.subject):
        assert "Globex" not in text and "GlobexOnlyError" not in text
        assert "globex" not in text


def test_the_mail_has_html_and_text_parts_no_images_and_one_click_unsubscribe(tenants):
    run("--week", WEEK.isoformat())
    (message,) = sent_to("ann@acme.example")
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<img" not in html and "<table" in html
    token = NotificationSettings.objects.get(user=tenants["ann"]).unsubscribe_token
    url = f"http://testserver/dashboard/unsubscribe/{token}/"
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.body and url in html
    # The dashboard link is absolute and opens the report's week.
    dashboard = "http://testserver/dashboard/acme/?period=custom&start=2026-06-01&end=2026-06-07"
    assert dashboard in message.body


def test_an_alert_link_in_the_mail_lands_on_that_alerts_item(tenants):
    from dashboard.monitors.tests.factories import AlertFactory

    alert = AlertFactory(monitor__client=tenants["acme"], opened_at=at(WEEK, 30))
    run("--week", WEEK.isoformat())
    (message,) = sent_to("ann@acme.example")
    link = f"http://testserver/dashboard/acme/alerts/#alert-{alert.pk}"
    assert link in message.body
    http = HttpClient()
    http.force_login(tenants["ann"])
    page = http.get(link.removeprefix("http://testserver").split("#")[0])
    assert page.status_code == 200
    assert f'id="alert-{alert.pk}"' in page.content.decode()


def test_running_twice_sends_nothing_new(tenants):
    run("--week", WEEK.isoformat())
    output = run("--week", WEEK.isoformat())
    assert len(mail.outbox) == 3
    assert "0 sent, 3 already sent" in output
    assert ReportDelivery.objects.count() == 3


def test_already_sent_tells_a_clients_report_from_another_clients_and_the_owners(tenants):
    from dashboard.monitors.selectors.reports import Recipient, report_already_sent

    ann, acme, globex = tenants["ann"], tenants["acme"], tenants["globex"]
    as_acme = Recipient(user=ann, client=acme)
    as_globex = Recipient(user=ann, client=globex)
    as_owner = Recipient(user=ann, client=None)
    ReportDelivery.objects.create(week=WEEK, client=globex, user=ann, email=ann.email)
    assert report_already_sent(week=WEEK, recipient=as_globex)
    assert not report_already_sent(week=WEEK, recipient=as_acme)
    assert not report_already_sent(week=WEEK, recipient=as_owner)
    ReportDelivery.objects.create(week=WEEK, client=None, user=ann, email=ann.email)
    assert report_already_sent(week=WEEK, recipient=as_owner)
    assert not report_already_sent(week=WEEK, recipient=as_acme)
    assert not report_already_sent(week=NEXT_WEEK, recipient=as_owner)
    # Any day of the week is its Monday.
    assert report_already_sent(week=WEEK + dt.timedelta(days=3), recipient=as_globex)


def test_a_dry_run_sends_and_records_nothing(tenants):
    output = run("--week", WEEK.isoformat(), "--dry-run")
    assert mail.outbox == []
    assert ReportDelivery.objects.count() == 0
    assert NotificationSettings.objects.count() == 0
    assert "ann@acme.example: acme report, would send" in output
    assert "owner@flusso.example: owner (all clients) report, would send" in output


def test_a_day_that_is_not_a_monday_sends_its_weeks_report_and_says_so(tenants):
    output = run("--week", "2026-06-04")
    assert "2026-06-04 is a Thursday: sending the week that starts on Monday 2026-06-01" in output
    assert set(ReportDelivery.objects.values_list("week", flat=True)) == {WEEK}


@pytest.mark.parametrize(
    ("week", "message"),
    [("04/06/2026", "YYYY-MM-DD"), ("2026-02-30", "YYYY-MM-DD"), ("2999-01-04", "not over yet")],
)
def test_a_bad_week_is_a_clear_command_error(db, week, message):
    with pytest.raises(CommandError, match=message):
        run("--week", week)


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_week_in_progress_is_refused_and_its_complete_report_goes_out_later(
    tenants, monkeypatch, dry_run
):
    """Sending the unfinished week would record it as sent, so its complete report would
    never go out: refused (with or without --dry-run) until the week has ended."""
    from django.utils import timezone

    wednesday = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)  # in the week of 2026-06-08
    monkeypatch.setattr(timezone, "now", lambda: wednesday)
    extra = ["--dry-run"] if dry_run else []
    with pytest.raises(CommandError, match=r"week of 2026-06-08 is not over yet") as caught:
        run("--week", "2026-06-09", *extra)
    assert "last complete week is the week of 2026-06-01" in str(caught.value)
    assert mail.outbox == [] and ReportDelivery.objects.count() == 0
    # Sunday 23:59 is still the week; Monday 00:00 it is over and is sent.
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 6, 14, 23, 59, tzinfo=dt.UTC))
    with pytest.raises(CommandError, match="not over yet"):
        run("--week", "2026-06-08")
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 6, 15, 0, 0, tzinfo=dt.UTC))
    assert "3 sent" in run("--week", "2026-06-08")


def test_the_default_week_is_the_last_complete_one(tenants, monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 6, 10, 3, 0, tzinfo=dt.UTC))
    output = run("--dry-run")
    assert "for the week of 2026-06-01" in output


def test_who_is_left_out_inactive_users_clients_and_people_without_a_client(tenants):
    gone = ClientFactory(slug="gone", is_active=False)
    MembershipFactory(client=gone, user__email="gina@gone.example")
    MembershipFactory(client=tenants["acme"], user__email="old@acme.example", user__is_active=False)
    UserFactory(email="nobody@example.com")  # no client, not an owner
    UserFactory(email="exowner@flusso.example", is_staff=True, is_active=False)
    run("--week", WEEK.isoformat())
    assert {m.to[0] for m in mail.outbox} == {
        "ann@acme.example",
        "gus@globex.example",
        "owner@flusso.example",
    }


def _token(message) -> str:
    return re.search(r"/dashboard/unsubscribe/([^/]+)/", message.body).group(1)


def test_unsubscribe_page_asks_and_the_button_stops_next_weeks_mail(tenants):
    run("--week", WEEK.isoformat())
    token = _token(sent_to("ann@acme.example")[0])
    browser = HttpClient(enforce_csrf_checks=True)  # not logged in, as from a mail client
    url = reverse("dashboard:unsubscribe", args=[token])

    page = browser.get(url)
    assert page.status_code == 200
    assert b'data-testid="unsubscribe"' in page.content
    # Looking (or a link scanner following the link) unsubscribes nobody.
    assert NotificationSettings.objects.get(user=tenants["ann"]).weekly_report is True

    done = browser.post(url)
    assert done.status_code == 200 and b'data-testid="unsubscribed"' in done.content
    mail.outbox.clear()
    run("--week", NEXT_WEEK.isoformat())
    assert sent_to("ann@acme.example") == []
    assert len(sent_to("gus@globex.example")) == 1


def test_one_click_post_from_a_mail_client_unsubscribes_without_login_or_csrf(tenants):
    run("--week", WEEK.isoformat())
    token = _token(sent_to("owner@flusso.example")[0])
    response = HttpClient(enforce_csrf_checks=True).post(
        reverse("dashboard:unsubscribe", args=[token]),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert NotificationSettings.objects.get(user=tenants["owner"]).weekly_report is False
    # Twice is harmless.
    again = HttpClient().post(reverse("dashboard:unsubscribe", args=[token]))
    assert again.status_code == 200
    mail.outbox.clear()
    run("--week", NEXT_WEEK.isoformat())
    assert sent_to("owner@flusso.example") == []


def test_an_unknown_unsubscribe_token_is_404(db):
    url = reverse("dashboard:unsubscribe", args=["not-a-token"])
    assert HttpClient().get(url).status_code == 404
    assert HttpClient().post(url).status_code == 404


@pytest.mark.parametrize("path", ["abc%00def", "abc%20def", "%C3%A9t%C3%A9", "a" * 65])
def test_text_that_cannot_be_a_token_is_404_on_get_and_post(db, path):
    """A NUL byte is refused by PostgreSQL in a text query (it answered 500): the token's
    shape is checked before any query."""
    url = f"/dashboard/unsubscribe/{path}/"
    assert HttpClient().get(url).status_code == 404
    assert HttpClient().post(url).status_code == 404


def test_the_token_lookup_refuses_a_nul_byte_without_querying(db):
    from dashboard.monitors.selectors.notifications import (
        notification_settings_by_unsubscribe_token,
    )
    from dashboard.monitors.services.reports import (
        UnknownUnsubscribeToken,
        unsubscribe_weekly_report,
    )

    assert notification_settings_by_unsubscribe_token(token="abc\x00def") is None
    with pytest.raises(UnknownUnsubscribeToken):
        unsubscribe_weekly_report(token="abc\x00def")


class FlakyBackend(EmailBackend):
    """The mail server refuses one address (a simulated network failure)."""

    def send_messages(self, messages):
        if any("gus@globex.example" in m.to for m in messages):
            raise ConnectionError("SMTP server went away")
        return super().send_messages(messages)


def test_a_failed_send_is_not_recorded_and_the_next_run_retries_it(tenants, settings):
    settings.EMAIL_BACKEND = "dashboard.monitors.tests.test_send_reports.FlakyBackend"
    with pytest.raises(CommandError, match="1 report"):
        run("--week", WEEK.isoformat())
    assert not ReportDelivery.objects.filter(email="gus@globex.example").exists()
    assert len(mail.outbox) == 2  # the others went out
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    output = run("--week", WEEK.isoformat())
    assert "1 sent, 2 already sent" in output
    assert len(sent_to("gus@globex.example")) == 1


def test_without_site_url_the_command_refuses_clearly(tenants, settings):
    settings.SITE_URL = ""
    with pytest.raises(CommandError, match="SITE_URL"):
        run("--week", WEEK.isoformat())
    assert mail.outbox == []
