"""Delivering alert events: who is told, by e-mail and by signed webhook, once, with
retries, never another client's alerts, never through the SSRF guard."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.core import mail
from django.utils import timezone

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import (
    AlertChannel,
    AlertEvent,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Metric,
    MonitorKind,
    NotificationSettings,
)
from dashboard.monitors.services.alerts import alert_acknowledge, alert_open, alert_resolve
from dashboard.monitors.services.deliveries import (
    CLAIM_LEASE,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    _claim,
    deliveries_fan_out,
    deliveries_run,
)
from dashboard.monitors.tests.factories import AlertChannelFactory, MonitorFactory
from dashboard.monitors.tests.receiver import receiver
from dashboard.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.SITE_URL = "https://flusso.example.com"


class Clock:
    """The real clock (django.utils.timezone.now), set by the test: sending, leases and
    backoff run on it, whatever ``now`` a run is given."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, by: dt.timedelta) -> dt.datetime:
        self.at += by
        return self.at


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    clock = Clock(NOW)
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


@pytest.fixture
def acme(db):
    return ClientFactory(slug="acme", name="Acme")


@pytest.fixture
def globex(db):
    return ClientFactory(slug="globex", name="Globex")


def member(client, email, *, alert_emails=True):
    user = MembershipFactory(client=client, user__email=email).user
    NotificationSettings.objects.create(user=user, alert_emails=alert_emails)
    return user


def owner(email="owner@flusso.example", *, alert_emails=True):
    user = UserFactory(email=email, is_staff=True)
    NotificationSettings.objects.create(user=user, alert_emails=alert_emails)
    return user


def open_alert(client, *, at=NOW, monitor=None, **monitor_fields):
    monitor = monitor or MonitorFactory(client=client, **monitor_fields)
    return alert_open(
        monitor=monitor,
        environment="production",
        at=at,
        window_start=at - dt.timedelta(hours=1),
        window_end=at,
        value=0.42,
        sample_size=120,
        baseline_median=0.91,
        baseline_low=0.84,
        baseline_high=0.97,
    )


def webhook(client, url, **fields):
    return AlertChannelFactory(client=client, kind=ChannelKind.WEBHOOK, email="", url=url, **fields)


def recipients():
    return sorted(address for message in mail.outbox for address in message.to)


def verifies(secret: str, body: bytes, header: str) -> bool:
    """The receiver's check as docs/monitors.md (alert channels) writes it."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


# --- Who is told -------------------------------------------------------------------------


def test_an_opened_alert_is_mailed_to_its_channels_and_opted_in_users_only(acme, globex):
    member(acme, "ann@acme.example")
    member(acme, "bob@acme.example", alert_emails=False)  # did not opt in
    UserFactory(email="new@acme.example")  # no settings row: the default is off
    member(globex, "gus@globex.example")  # another client's user
    owner("boss@flusso.example")
    owner("quiet@flusso.example", alert_emails=False)
    AlertChannelFactory(client=acme, email="support@acme.example")
    AlertChannelFactory(client=globex, email="support@globex.example")
    AlertChannelFactory(client=None, email="oncall@flusso.example")
    AlertChannelFactory(client=acme, email="off@acme.example", enabled=False)
    open_alert(acme)

    assert deliveries_run(now=NOW) == 4

    assert recipients() == [
        "ann@acme.example",
        "boss@flusso.example",
        "oncall@flusso.example",
        "support@acme.example",
    ]


def test_a_client_user_never_gets_another_clients_alert(acme, globex):
    ann, gus = member(acme, "ann@acme.example"), member(globex, "gus@globex.example")
    open_alert(acme)
    open_alert(globex)
    deliveries_run(now=NOW)
    to = {message.to[0]: message for message in mail.outbox}
    assert set(to) == {ann.email, gus.email}
    assert "Acme" in to[ann.email].subject and "Globex" not in to[ann.email].body
    assert "Globex" in to[gus.email].subject and "/dashboard/acme/" not in to[gus.email].body
    assert Delivery.objects.filter(user=ann, event__alert__client=globex).count() == 0


def test_a_member_of_an_inactive_client_is_not_mailed_but_the_owner_is(acme):
    member(acme, "ann@acme.example")
    owner("boss@flusso.example")
    acme.is_active = False
    acme.save()
    open_alert(acme)
    deliveries_run(now=NOW)
    assert recipients() == ["boss@flusso.example"]


def test_inactive_users_are_not_mailed(acme):
    ann = member(acme, "ann@acme.example")
    ann.is_active = False
    ann.save()
    open_alert(acme)
    assert deliveries_run(now=NOW) == 0
    assert mail.outbox == []


def test_an_address_that_is_a_channel_and_an_opted_in_user_gets_one_mail(acme):
    owner("boss@flusso.example")
    AlertChannelFactory(client=None, email="Boss@flusso.example")
    open_alert(acme)
    deliveries_run(now=NOW)
    assert recipients() == ["Boss@flusso.example"]


def test_a_membership_revoked_before_sending_stops_the_mail(acme):
    """Checked again when sending: fan-out queued it while Ann was still a member."""
    ann = member(acme, "ann@acme.example")
    open_alert(acme)
    deliveries_fan_out(now=NOW)
    ann.memberships.all().delete()
    assert deliveries_run(now=NOW) == 0
    assert mail.outbox == []
    delivery = Delivery.objects.get(user=ann)
    assert delivery.status == DeliveryStatus.FAILED
    assert "no longer" in delivery.last_error


# --- What the mail says ------------------------------------------------------------------


def test_the_alert_mail_has_a_subject_text_html_and_the_alerts_page_link(acme):
    member(acme, "ann@acme.example")
    open_alert(acme)
    deliveries_run(now=NOW)
    (message,) = mail.outbox
    assert message.subject == "[Flusso] Acme (production): success rate 42% (normal 91%) — opened"
    assert "https://flusso.example.com/dashboard/acme/alerts/" in message.body
    assert "https://flusso.example.com/accounts/notifications/" in message.body  # opt out
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert 'href="https://flusso.example.com/dashboard/acme/alerts/"' in html
    assert "<strong>42%</strong>" in html


def test_a_client_name_with_markup_is_escaped_in_the_html_mail(db):
    client = ClientFactory(slug="evil", name="<script>x</script>")
    member(client, "eve@evil.example")
    open_alert(client)
    deliveries_run(now=NOW)
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_a_client_name_with_a_line_break_still_makes_a_one_line_subject(db):
    client = ClientFactory(slug="multi", name="Multi\r\nBcc: eve@evil.example")
    member(client, "ann@multi.example")
    open_alert(client)
    assert deliveries_run(now=NOW) == 1
    (message,) = mail.outbox
    assert message.to == ["ann@multi.example"] and message.bcc == []
    assert "\n" not in message.subject and message.subject.startswith("[Flusso] Multi Bcc:")


def test_a_threshold_alert_says_its_threshold(acme):
    member(acme, "ann@acme.example")
    open_alert(
        acme,
        metric=Metric.ERROR_RATE,
        kind=MonitorKind.THRESHOLD,
        comparison="gt",
        threshold=0.05,
    )
    deliveries_run(now=NOW)
    assert "(threshold above 5.0%)" in mail.outbox[0].subject


# --- Once, muted, acknowledged, resolved ---------------------------------------------------


def test_running_twice_sends_once(acme):
    member(acme, "ann@acme.example")
    open_alert(acme)
    assert deliveries_run(now=NOW) == 1
    assert deliveries_run(now=NOW) == 0
    assert deliveries_run(now=NOW + dt.timedelta(days=2)) == 0
    assert len(mail.outbox) == 1
    assert Delivery.objects.count() == 1


def test_a_monitor_muted_at_the_events_time_notifies_nobody(acme):
    member(acme, "ann@acme.example")
    AlertChannelFactory(client=None, email="oncall@flusso.example")
    open_alert(acme, muted_until=NOW + dt.timedelta(hours=1))
    assert deliveries_run(now=NOW) == 0
    assert mail.outbox == []
    event = AlertEvent.objects.get()
    assert event.fanned_out_at == NOW and not event.deliveries.exists()
    # Unmuting later does not replay what happened while muted.
    assert deliveries_run(now=NOW + dt.timedelta(hours=2)) == 0


def test_a_mute_that_ended_before_the_event_does_not_silence_it(acme):
    member(acme, "ann@acme.example")
    open_alert(acme, muted_until=NOW - MINUTE)
    assert deliveries_run(now=NOW) == 1


def test_a_disabled_monitor_notifies_nobody(acme):
    member(acme, "ann@acme.example")
    open_alert(acme, enabled=False)
    assert deliveries_run(now=NOW) == 0
    assert AlertEvent.objects.get().fanned_out_at == NOW


def test_acknowledging_is_not_notified_and_resolving_is(acme):
    ann = member(acme, "ann@acme.example")
    alert = open_alert(acme)
    deliveries_run(now=NOW)
    alert_acknowledge(alert=alert, user=ann, now=NOW + MINUTE)
    assert deliveries_run(now=NOW + 2 * MINUTE) == 0
    alert.refresh_from_db()
    alert.last_value = 0.9
    alert.save()
    alert_resolve(alert=alert, now=NOW + dt.timedelta(hours=2))
    assert deliveries_run(now=NOW + dt.timedelta(hours=2)) == 1
    assert [m.subject for m in mail.outbox] == [
        "[Flusso] Acme (production): success rate 42% (normal 91%) — opened",
        "[Flusso] Acme (production): success rate 90% (normal 91%) — resolved",
    ]


def test_a_resolution_whose_opening_was_muted_is_not_notified(acme):
    member(acme, "ann@acme.example")
    alert = open_alert(acme, muted_until=NOW + dt.timedelta(minutes=30))
    alert_resolve(alert=alert, now=NOW + dt.timedelta(hours=1))
    assert deliveries_run(now=NOW + dt.timedelta(hours=1)) == 0
    assert mail.outbox == []


def test_an_event_after_now_waits_for_its_time(acme):
    """Replaying the past (--now) sends nothing the replayed moment had not seen."""
    member(acme, "ann@acme.example")
    open_alert(acme, at=NOW)
    assert deliveries_run(now=NOW - dt.timedelta(hours=1)) == 0
    assert AlertEvent.objects.get().fanned_out_at is None
    assert deliveries_run(now=NOW) == 1


# --- Webhooks against a real receiver ---------------------------------------------------


def test_a_webhook_gets_the_versioned_payload_signed_with_its_secret(acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        channel = webhook(acme, hook.url())
        alert = open_alert(acme)
        assert deliveries_run(now=NOW) == 1
    (request,) = hook.requests
    assert verifies(channel.secret, request.body, request.headers["X-Flusso-Signature"])
    assert request.headers["X-Flusso-Event"] == "alert.opened"
    delivery = Delivery.objects.get()
    assert request.headers["X-Flusso-Delivery"] == str(delivery.pk)
    payload = json.loads(request.body)
    assert payload == {
        "version": 1,
        "event": "alert.opened",
        "event_id": alert.events.get().pk,
        "event_at": "2026-03-02T10:00:00+00:00",
        "summary": "Acme (production): success rate 42% (normal 91%) — opened",
        "alert": {
            "id": alert.pk,
            "metric": "success_rate",
            "metric_label": "success rate",
            "environment": "production",
            "state": "open",
            "opened_at": "2026-03-02T10:00:00+00:00",
            "resolved_at": None,
            "value": 0.42,
            "sample_size": 120,
            "baseline": {"median": 0.91, "low": 0.84, "high": 0.97},
            "p_value": None,
            "window": {
                "start": "2026-03-02T09:00:00+00:00",
                "end": "2026-03-02T10:00:00+00:00",
                "minutes": 60,
            },
            "url": "https://flusso.example.com/dashboard/acme/alerts/",
        },
        "client": {"slug": "acme", "name": "Acme"},
    }
    assert delivery.status == DeliveryStatus.SENT and delivery.last_status_code == 200
    assert delivery.sent_at == NOW and delivery.attempts == 1


def test_a_resolution_is_posted_as_alert_resolved(acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        webhook(None, hook.url())
        alert = open_alert(acme)
        deliveries_run(now=NOW)
        alert_resolve(alert=alert, now=NOW + dt.timedelta(hours=1))
        deliveries_run(now=NOW + dt.timedelta(hours=1))
    opened, resolved = (json.loads(r.body) for r in hook.requests)
    assert opened["event"] == "alert.opened" and resolved["event"] == "alert.resolved"
    assert resolved["alert"]["state"] == "resolved"
    assert resolved["alert"]["resolved_at"] == "2026-03-02T11:00:00+00:00"
    assert hook.requests[1].headers["X-Flusso-Event"] == "alert.resolved"


def test_slack_mode_posts_text_and_blocks_still_signed(acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        channel = webhook(acme, hook.url(), slack=True)
        open_alert(acme)
        deliveries_run(now=NOW)
    (request,) = hook.requests
    body = json.loads(request.body)
    assert body["text"] == "[Flusso] Acme (production): success rate 42% (normal 91%) — opened"
    assert [block["type"] for block in body["blocks"]] == ["section", "context"]
    assert "<https://flusso.example.com/dashboard/acme/alerts/|" in json.dumps(body["blocks"])
    assert verifies(channel.secret, request.body, request.headers["X-Flusso-Signature"])


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_without_the_setting_a_loopback_webhook_fails_at_once_and_is_never_reached(acme, host):
    with receiver() as hook:
        webhook(acme, hook.url(host=host))
        open_alert(acme)
        assert deliveries_run(now=NOW) == 0
        assert deliveries_run(now=NOW + dt.timedelta(days=1)) == 0
        assert hook.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "non-public address" in delivery.last_error
    assert "ALERT_WEBHOOK_ALLOW_PRIVATE" in delivery.last_error


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(acme, settings, clock):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        hook.answer(500, b"database down")
        hook.answer(503)
        webhook(acme, hook.url())
        open_alert(acme)

        assert deliveries_run(now=NOW) == 0
        delivery = Delivery.objects.get()
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
        assert delivery.last_status_code == 500
        assert delivery.last_error == "HTTP 500: database down"
        assert delivery.next_attempt_at == NOW + RETRY_DELAYS[0]

        # Not due yet: nothing is sent before the backoff has passed.
        clock.advance(dt.timedelta(seconds=30))
        assert deliveries_run() == 0
        assert len(hook.requests) == 1

        second = clock.advance(RETRY_DELAYS[0] - dt.timedelta(seconds=30))
        assert deliveries_run() == 0
        delivery.refresh_from_db()
        assert delivery.attempts == 2 and delivery.next_attempt_at == second + RETRY_DELAYS[1]

        clock.advance(RETRY_DELAYS[1])
        assert deliveries_run() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    assert len(hook.requests) == 3
    # The same bytes each time: a receiver can deduplicate on the body or the delivery id.
    assert len({request.body for request in hook.requests}) == 1


def test_a_receiver_that_never_answers_2xx_fails_after_the_last_attempt(acme, settings, clock):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        for _ in range(MAX_ATTEMPTS + 2):
            hook.answer(500)
        webhook(acme, hook.url())
        open_alert(acme)
        for _ in range(MAX_ATTEMPTS + 2):
            deliveries_run()
            clock.advance(dt.timedelta(hours=9))
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == MAX_ATTEMPTS == len(hook.requests) == 8
    # The schedule: about a day from the first attempt to the last.
    assert dt.timedelta(hours=20) < sum(RETRY_DELAYS, dt.timedelta()) < dt.timedelta(hours=24)


def test_a_redirect_is_not_followed_and_is_retried(acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        hook.answer(301)
        webhook(acme, hook.url())
        open_alert(acme)
        deliveries_run(now=NOW)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 301
    assert "not followed" in delivery.last_error
    assert len(hook.requests) == 1


def test_a_slow_receiver_does_not_stop_the_others(acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    settings.ALERT_WEBHOOK_TIMEOUT_SECONDS = 1
    with receiver() as slow, receiver() as fast:
        slow.answer(200, delay=3)
        webhook(acme, slow.url())
        webhook(None, fast.url())
        AlertChannelFactory(client=acme, email="support@acme.example")
        open_alert(acme)
        assert deliveries_run(now=NOW) == 2
        assert len(fast.requests) == 1
    assert recipients() == ["support@acme.example"]
    late = Delivery.objects.get(channel__url__startswith=slow.url())
    assert late.status == DeliveryStatus.PENDING
    assert late.last_error.startswith("timed out: no complete answer within 1 s")


def test_a_trickling_receiver_is_cut_off_and_the_others_are_still_sent(acme, settings):
    """A byte every 0.2 s never trips a per-read timeout; the attempt's deadline does."""
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    settings.ALERT_WEBHOOK_TIMEOUT_SECONDS = 1
    with receiver() as slow, receiver() as fast:
        slow.answer(200, trickle=0.2)
        webhook(acme, slow.url())
        webhook(None, fast.url())
        open_alert(acme)
        started = time.monotonic()
        assert deliveries_run(now=NOW) == 1
        took = time.monotonic() - started
        assert len(fast.requests) == 1 and len(slow.requests) == 1
    assert took < 1 + 1.5
    late = Delivery.objects.get(channel__url__startswith=slow.url())
    assert late.status == DeliveryStatus.PENDING and late.attempts == 1
    assert late.last_error == (
        "timed out: no complete answer within 1 s "
        "(connecting, sending and reading the answer together)"
    )
    assert late.next_attempt_at == NOW + RETRY_DELAYS[0]


# --- Replaying the past (monitors_run --now): sending runs on the real clock ----------------


def test_a_replayed_run_keeps_the_backoff_and_times_of_the_real_clock(acme, settings, clock):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    live = clock.advance(dt.timedelta(days=30))  # the replayed moment is a month ago
    with receiver() as hook:
        hook.answer(500)
        webhook(acme, hook.url())
        open_alert(acme, at=NOW)
        assert deliveries_run(now=NOW) == 0  # what monitors_run --now NOW does
        delivery = Delivery.objects.get()
        assert delivery.event.fanned_out_at == live
        assert delivery.last_attempt_at == live
        assert delivery.next_attempt_at == live + RETRY_DELAYS[0]
        # A live run a second later, or the replay again, does not skip the backoff.
        clock.advance(dt.timedelta(seconds=1))
        assert deliveries_run() == 0
        assert deliveries_run(now=NOW) == 0
        assert len(hook.requests) == 1
        clock.advance(RETRY_DELAYS[0])
        assert deliveries_run(now=NOW) == 1
    delivery.refresh_from_db()
    assert delivery.sent_at == clock.at and delivery.attempts == 2


def test_a_claim_during_a_replay_leases_from_the_real_clock(acme, clock):
    """Otherwise a replay of a past moment takes a lease that has already run out, and a
    live run could claim and send the same delivery at the same time."""
    member(acme, "ann@acme.example")
    open_alert(acme, at=NOW)
    deliveries_fan_out(now=NOW)
    live = clock.advance(dt.timedelta(days=30))
    delivery = _claim(delivery_id=Delivery.objects.get().pk)
    assert delivery is not None
    assert delivery.next_attempt_at == live + CLAIM_LEASE and delivery.last_attempt_at == live
    assert _claim(delivery_id=delivery.pk) is None  # a concurrent run cannot take it
    assert deliveries_run() == 0 and mail.outbox == []


# --- A channel moved to another client -----------------------------------------------------


def test_a_channel_moved_to_another_client_is_not_sent_the_first_clients_alert(
    acme, globex, settings
):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        hooked = webhook(acme, hook.url())
        mailed = AlertChannelFactory(client=acme, email="support@acme.example")
        owners = AlertChannelFactory(client=None, email="oncall@flusso.example")
        open_alert(acme)
        deliveries_fan_out(now=NOW)
        AlertChannel.objects.filter(pk__in=[hooked.pk, mailed.pk]).update(client=globex)
        assert deliveries_run(now=NOW) == 1
        assert hook.requests == []
    assert recipients() == ["oncall@flusso.example"]
    assert Delivery.objects.get(channel=owners).status == DeliveryStatus.SENT
    for channel in (hooked, mailed):
        delivery = Delivery.objects.get(channel=channel)
        assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
        assert "belongs to another client" in delivery.last_error


def test_the_secret_never_reaches_the_delivery_log(acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        channel = webhook(acme, hook.url(), secret="s3cret-value-0123456789")
        hook.answer(400, b"bad signature for secret s3cret-value-0123456789")
        open_alert(acme)
        deliveries_run(now=NOW)
    delivery = Delivery.objects.get()
    assert channel.secret not in delivery.last_error
    assert delivery.last_error == "HTTP 400: bad signature for secret [secret]"


def test_a_channel_disabled_after_fan_out_is_not_sent(acme):
    channel = AlertChannelFactory(client=acme, email="support@acme.example")
    open_alert(acme)
    deliveries_fan_out(now=NOW)
    AlertChannel.objects.filter(pk=channel.pk).update(enabled=False)
    assert deliveries_run(now=NOW) == 0
    assert Delivery.objects.get().status == DeliveryStatus.FAILED


def test_a_delivery_claimed_by_another_run_is_not_sent_twice(acme):
    """A run that finds a delivery already claimed (its lease pushed next_attempt_at past
    now) leaves it alone."""
    member(acme, "ann@acme.example")
    open_alert(acme)
    deliveries_fan_out(now=NOW)
    Delivery.objects.update(next_attempt_at=NOW + CLAIM_LEASE, attempts=1)  # another run's
    assert deliveries_run(now=NOW) == 0
    assert mail.outbox == []
