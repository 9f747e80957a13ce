"""Channel and delivery admin: the secret masked (shown once on creation or rotation),
addresses checked like the command checks them, the last delivery's status listed, the
delivery log read-only, and a test send through the same SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import AlertChannel, ChannelKind, Delivery, DeliveryStatus
from dashboard.monitors.services.alerts import alert_open
from dashboard.monitors.services.deliveries import deliveries_run
from dashboard.monitors.tests.factories import AlertChannelFactory, MonitorFactory
from dashboard.monitors.tests.receiver import receiver
from dashboard.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "webhook-secret-abcdefghijklmnop"


@pytest.fixture
def admin_http():
    http = HttpClient()
    http.force_login(UserFactory(is_staff=True, is_superuser=True))
    return http


@pytest.fixture
def acme():
    return ClientFactory(slug="acme", name="Acme")


def hook_channel(client, url="https://hooks.example.com/x", **fields):
    return AlertChannelFactory(
        client=client, kind=ChannelKind.WEBHOOK, email="", url=url, secret=SECRET, **fields
    )


def open_now(client):
    now = timezone.now()
    monitor = MonitorFactory(client=client)
    alert_open(monitor=monitor, environment="", at=now, window_start=now, window_end=now)
    deliveries_run(now=now)


def add(admin_http, **fields):
    data = {"client": "", "kind": "webhook", "email": "", "url": "", "enabled": "on", **fields}
    return admin_http.post(reverse("admin:monitors_alertchannel_add"), data, follow=True)


def test_the_list_and_the_form_show_the_secret_masked(admin_http, acme):
    channel = hook_channel(acme)
    listing = admin_http.get(reverse("admin:monitors_alertchannel_changelist")).content.decode()
    form = admin_http.get(
        reverse("admin:monitors_alertchannel_change", args=[channel.pk])
    ).content.decode()
    for html in (listing, form):
        assert SECRET not in html
        assert "webh…" in html
    assert 'name="secret"' not in form


def test_adding_a_webhook_shows_its_generated_secret_once(admin_http, acme):
    response = add(admin_http, client=acme.pk, url="https://hooks.example.com/new")
    channel = AlertChannel.objects.get()
    assert channel.secret in response.content.decode()
    follow_up = admin_http.get(reverse("admin:monitors_alertchannel_changelist"))
    assert channel.secret not in follow_up.content.decode()


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"url": "ftp://hooks.example.com/"}, "must start with http:// or https://"),
        ({"url": "https://u:p@hooks.example.com/"}, "user name or password"),
        ({"url": ""}, "A webhook channel needs a URL."),
        ({"kind": "email", "email": ""}, "An e-mail channel needs an address."),
        (
            {"kind": "email", "email": "a@example.com", "url": "https://h.example.com/"},
            "An e-mail channel has no webhook URL.",
        ),
    ],
)
def test_a_bad_channel_is_refused_in_the_form(admin_http, fields, says):
    response = add(admin_http, **fields)
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not AlertChannel.objects.exists()


def test_rotating_the_secret_shows_the_new_one_once(admin_http, acme):
    channel = hook_channel(acme)
    response = admin_http.post(
        reverse("admin:monitors_alertchannel_changelist"),
        {"action": "rotate_secret", "_selected_action": [channel.pk]},
        follow=True,
    )
    channel.refresh_from_db()
    assert channel.secret != SECRET
    assert channel.secret in response.content.decode()


def test_the_list_shows_each_channels_last_delivery(admin_http, acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        hook.answer(502)
        hook_channel(acme, url=hook.url())
        open_now(acme)
    html = admin_http.get(reverse("admin:monitors_alertchannel_changelist")).content.decode()
    assert "pending (HTTP 502)" in html


def test_the_delivery_log_is_read_only(admin_http, acme):
    channel = AlertChannelFactory(client=acme, email="support@acme.example")
    open_now(acme)
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.status == DeliveryStatus.SENT
    listing = admin_http.get(reverse("admin:monitors_delivery_changelist")).content.decode()
    assert "support@acme.example" in listing
    assert admin_http.get(reverse("admin:monitors_delivery_add")).status_code == 403
    change = reverse("admin:monitors_delivery_change", args=[delivery.pk])
    admin_http.post(change, {"status": "pending"})
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT


def test_send_test_posts_a_signed_test_event(admin_http, acme, settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True
    with receiver() as hook:
        channel = hook_channel(acme, url=hook.url())
        response = admin_http.post(
            reverse("admin:monitors_alertchannel_changelist"),
            {"action": "send_test", "_selected_action": [channel.pk]},
            follow=True,
        )
    assert "answered HTTP 200" in response.content.decode()
    (request,) = hook.requests
    assert json.loads(request.body)["event"] == "test"
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, request.headers["X-Flusso-Signature"])


def test_send_test_is_refused_for_a_loopback_webhook_without_the_setting(admin_http, acme):
    with receiver() as hook:
        channel = hook_channel(acme, url=hook.url())
        response = admin_http.post(
            reverse("admin:monitors_alertchannel_changelist"),
            {"action": "send_test", "_selected_action": [channel.pk]},
            follow=True,
        )
        assert hook.requests == []
    assert "non-public address" in response.content.decode()


def test_a_channel_with_deliveries_cannot_be_moved_to_another_client(admin_http, acme):
    """Its queued and retried deliveries are of acme's alerts: globex must not get them."""
    globex = ClientFactory(slug="globex", name="Globex")
    used = AlertChannelFactory(client=acme, email="support@acme.example")
    open_now(acme)
    unused = AlertChannelFactory(client=acme, email="spare@acme.example")
    for channel in (used, unused):
        admin_http.post(
            reverse("admin:monitors_alertchannel_change", args=[channel.pk]),
            {
                "client": globex.pk,
                "kind": "email",
                "email": channel.email,
                "url": "",
                "enabled": "on",
            },
        )
    used.refresh_from_db()
    unused.refresh_from_db()
    assert used.client == acme
    assert unused.client == globex  # created after the alert: no deliveries yet, may move
    form = admin_http.get(reverse("admin:monitors_alertchannel_change", args=[used.pk]))
    assert 'name="client"' not in form.content.decode()
