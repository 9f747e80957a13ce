"""One drift, from logs to people: ``monitors_run --now`` opens alerts from a real time
series, mails the opted-in member of that client only, posts a signed webhook to a real
receiver, shows the alert on the client's page (404 to another client), does nothing more
when run again, and tells everyone once more when the metric comes back."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import Alert, AlertState, ChannelKind, Metric
from dashboard.monitors.services.notifications import notification_settings_update
from dashboard.monitors.tests.factories import AlertChannelFactory
from dashboard.monitors.tests.receiver import receiver
from dashboard.monitors.tests.series import T, run, seed, seed_weeks
from dashboard.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)


def _member(client, email: str):
    membership = MembershipFactory(client=client, user__email=email)
    notification_settings_update(user=membership.user, alert_emails=True, weekly_report=True)
    return membership.user


def test_a_drift_is_opened_told_once_shown_and_resolved_when_it_comes_back(settings):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    acme = ClientFactory(slug="acme", name="Acme")
    globex = ClientFactory(slug="globex", name="Globex")
    ann, gus = _member(acme, "ann@acme.example"), _member(globex, "gus@globex.example")
    for client in (acme, globex):
        seed_weeks(client, T, before=7 * H, after=8 * H)  # six weeks of 90 % success
        seed(client, T - 7 * H, T - H)
    seed(acme, T - H, T, success_rate=0.4)  # acme's last hour drifts; globex stays normal
    seed(globex, T - H, T)

    with receiver() as hook:
        channel = AlertChannelFactory(
            client=acme, kind=ChannelKind.WEBHOOK, email="", url=hook.url()
        )
        first = run(T)
        opened = list(Alert.objects.filter(client=acme))
        assert opened and {a.state for a in opened} == {AlertState.OPEN}
        assert Metric.SUCCESS_RATE in {a.metric for a in opened}
        assert not Alert.objects.filter(client=globex).exists()
        told = len(mail.outbox)
        assert told == len(opened) and {m.to[0] for m in mail.outbox} == {ann.email}
        assert all("Acme" in m.subject and "Globex" not in m.body for m in mail.outbox)
        assert len(hook.requests) == len(opened)
        for request in hook.requests:
            expected = (
                "sha256="
                + hmac.new(channel.secret.encode(), request.body, hashlib.sha256).hexdigest()
            )
            assert hmac.compare_digest(expected, request.headers["X-Flusso-Signature"])
            assert json.loads(request.body)["event"] == "alert.opened"
        assert f"{len(opened)} opened" in first

        # The same moment again: nothing opens, nobody is told twice.
        assert "0 opened" in run(T)
        assert len(mail.outbox) == told and len(hook.requests) == len(opened)

        # The page: acme's member sees the alert, globex's member gets 404.
        page = reverse("dashboard:alerts", args=["acme"])
        http = HttpClient()
        http.force_login(ann)
        assert f'data-alert="{opened[0].pk}"' in http.get(page).content.decode()
        http.force_login(gus)
        assert http.get(page).status_code == 404

        # Seven good hours later even the six-hour windows are back: every alert resolves,
        # and each resolution is told once.
        for client in (acme, globex):
            seed(client, T, T + 7 * H)
        run(T + 7 * H)
        assert set(Alert.objects.filter(client=acme).values_list("state", flat=True)) == {
            AlertState.RESOLVED
        }
        resolved_mail = mail.outbox[told:]
        assert len(resolved_mail) == len(opened)
        assert all(m.to == [ann.email] and "resolved" in m.subject for m in resolved_mail)
        # A resolution says what the metric came back to, not what opened the alert.
        assert any("success rate 90%" in m.subject for m in resolved_mail)
        events = [json.loads(r.body)["event"] for r in hook.requests[len(opened) :]]
        assert events == ["alert.resolved"] * len(opened)
