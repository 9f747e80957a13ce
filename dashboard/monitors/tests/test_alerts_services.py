"""The alert lifecycle: each step once, whoever repeats it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dashboard.monitors.models import AlertEvent, AlertState
from dashboard.monitors.services.alerts import (
    AlertAlreadyResolved,
    alert_acknowledge,
    alert_open,
    alert_resolve,
)
from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory
from dashboard.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _seen(now):
    return {"window_start": now, "window_end": now, "value": 0.5, "sample_size": 40}


def test_opening_twice_opens_one_alert_with_one_event():
    monitor, now = MonitorFactory(), timezone.now()
    first = alert_open(monitor=monitor, environment="production", at=now, **_seen(now))
    second = alert_open(monitor=monitor, environment="production", at=now, **_seen(now))
    assert first is not None and second is None
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["opened"]


def test_another_environment_opens_its_own_alert():
    monitor, now = MonitorFactory(), timezone.now()
    assert alert_open(monitor=monitor, environment="production", at=now, **_seen(now))
    assert alert_open(monitor=monitor, environment="staging", at=now, **_seen(now))


def test_acknowledge_keeps_the_first_who_and_when():
    alert, first, second = AlertFactory(), UserFactory(), UserFactory()
    alert_acknowledge(alert=alert, user=first)
    alert = alert_acknowledge(alert=alert, user=second)
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == first
    assert AlertEvent.objects.filter(alert=alert, kind="acknowledged").count() == 1


def test_resolving_twice_records_once_and_a_resolved_alert_cannot_be_acknowledged():
    alert, user = AlertFactory(), UserFactory()
    alert_resolve(alert=alert, user=user)
    alert = alert_resolve(alert=alert)
    assert alert.state == AlertState.RESOLVED and alert.resolved_by == user
    assert AlertEvent.objects.filter(alert=alert, kind="resolved").count() == 1
    with pytest.raises(AlertAlreadyResolved):
        alert_acknowledge(alert=alert, user=user)


def test_after_resolving_the_monitor_may_open_again():
    alert = AlertFactory()
    alert_resolve(alert=alert)
    now = timezone.now()
    again = alert_open(monitor=alert.monitor, environment=alert.environment, at=now, **_seen(now))
    assert again is not None and again.pk != alert.pk
