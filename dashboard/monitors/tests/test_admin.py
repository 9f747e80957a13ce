"""Admin for monitors and alerts: tuning, threshold monitors' validation, resolving by hand."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import AlertEvent, AlertState, Metric, Monitor, MonitorKind
from dashboard.monitors.services.defaults import monitors_ensure_defaults
from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory
from dashboard.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_http(admin_user):
    http = HttpClient()
    http.force_login(admin_user)
    return http


def _threshold_form(client, **overrides):
    form = {
        "client": client.pk,
        "metric": Metric.SUCCESS_RATE,
        "kind": MonitorKind.THRESHOLD,
        "environment": "",
        "window_minutes": 60,
        "comparison": "lt",
        "threshold": "0.95",
        "sensitivity": "3",
        "min_samples": 20,
        "cooldown_minutes": 60,
        "enabled": "on",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def test_the_monitor_list_shows_every_clients_defaults(admin_http):
    ClientFactory(slug="acme")
    monitors_ensure_defaults()
    html = admin_http.get(reverse("admin:monitors_monitor_changelist")).content.decode()
    assert "acme" in html and "p95 execution time" in html
    assert "15 monitors" in html


def test_the_monitor_list_filters_muted_ones(admin_http):
    from datetime import timedelta

    from django.utils import timezone

    MonitorFactory(client=ClientFactory(slug="loud-co"))
    MonitorFactory(
        client=ClientFactory(slug="hushed-co"), muted_until=timezone.now() + timedelta(hours=1)
    )
    MonitorFactory(
        client=ClientFactory(slug="was-muted-co"), muted_until=timezone.now() - timedelta(hours=1)
    )
    url = reverse("admin:monitors_monitor_changelist")

    def listed(muted: str) -> set[str]:
        found = admin_http.get(url, {"muted": muted}).context["cl"].result_list
        return {monitor.client.slug for monitor in found}

    assert listed("yes") == {"hushed-co"}
    assert listed("no") == {"loud-co", "was-muted-co"}


def test_an_owner_adds_a_threshold_monitor(admin_http):
    client = ClientFactory()
    response = admin_http.post(reverse("admin:monitors_monitor_add"), _threshold_form(client))
    assert response.status_code == 302
    monitor = Monitor.objects.get()
    assert (monitor.kind, monitor.comparison, monitor.threshold) == ("threshold", "lt", 0.95)
    assert not monitor.is_default


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"comparison": ""}, "A threshold monitor needs a comparison."),
        ({"threshold": None}, "A threshold monitor needs a threshold."),
        ({"window_minutes": 0}, "The window must be at least one minute."),
        ({"kind": MonitorKind.BASELINE}, "Only threshold monitors have a threshold."),
        ({"threshold": "lots"}, "Enter a number."),
        ({"threshold": "inf"}, "Enter a number."),
        # Bounds the engine can judge (2**31 minutes of cool-down overflowed every run).
        ({"window_minutes": 10081}, "less than or equal to 10080"),
        ({"cooldown_minutes": 2147483647}, "less than or equal to 43200"),
        ({"sensitivity": "0"}, "more than 0 and at most 100"),
        ({"sensitivity": "101"}, "more than 0 and at most 100"),
        ({"min_samples": 2000000}, "less than or equal to 1000000"),
    ],
)
def test_a_bad_monitor_comes_back_with_a_clear_error(admin_http, overrides, message):
    client = ClientFactory()
    response = admin_http.post(
        reverse("admin:monitors_monitor_add"), _threshold_form(client, **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Monitor.objects.exists()


def test_tuning_a_default_monitor_keeps_its_identity(admin_http):
    client = ClientFactory()
    monitors_ensure_defaults()
    monitor = Monitor.objects.get(client=client, metric=Metric.VOLUME, window_minutes=60)
    response = admin_http.post(
        reverse("admin:monitors_monitor_change", args=[monitor.pk]),
        {"sensitivity": "4.5", "min_samples": 50, "cooldown_minutes": 120},
    )
    assert response.status_code == 302
    monitor.refresh_from_db()
    assert (monitor.sensitivity, monitor.min_samples, monitor.enabled) == (4.5, 50, False)
    assert (monitor.metric, monitor.window_minutes, monitor.is_default) == ("volume", 60, True)


def test_alerts_are_read_only_with_their_events_inline(admin_http):
    alert = AlertFactory()
    AlertEvent.objects.create(alert=alert, kind="opened", at=alert.opened_at)
    html = admin_http.get(reverse("admin:monitors_alert_change", args=[alert.pk])).content.decode()
    assert "events-TOTAL_FORMS" in html
    assert 'name="value"' not in html  # shown, not editable
    assert admin_http.get(reverse("admin:monitors_alert_add")).status_code == 403


def test_resolve_by_hand_records_who(admin_http, admin_user):
    first, second = AlertFactory(), AlertFactory()
    done = AlertFactory(state=AlertState.RESOLVED, monitor=MonitorFactory())
    response = admin_http.post(
        reverse("admin:monitors_alert_changelist"),
        {"action": "resolve_by_hand", "_selected_action": [first.pk, second.pk, done.pk]},
    )
    assert response.status_code == 302
    for alert in (first, second):
        alert.refresh_from_db()
        assert (alert.state, alert.resolved_by) == (AlertState.RESOLVED, admin_user)
        assert alert.events.get(kind="resolved").by == admin_user
    done.refresh_from_db()
    assert done.resolved_by is None
