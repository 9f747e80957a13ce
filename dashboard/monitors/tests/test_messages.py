"""The words of an alert, shared by e-mail, webhooks and Slack."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dashboard.monitors.messages import event_summary
from dashboard.monitors.models import AlertEvent, Metric
from dashboard.monitors.services.alerts import alert_open
from dashboard.monitors.tests.factories import MonitorFactory

pytestmark = pytest.mark.django_db


def test_a_silence_is_told_as_how_long_without_logs_and_how_many_were_expected():
    now = timezone.now()
    monitor = MonitorFactory(metric=Metric.SILENCE, client__name="Brightline Outdoor")
    alert = alert_open(
        monitor=monitor,
        environment="production",
        at=now,
        window_start=now - dt.timedelta(days=3, minutes=10),
        window_end=now,
        value=3 * 24 * 60 + 10,
        sample_size=0,
        baseline_median=23.2,
    )
    summary = event_summary(AlertEvent.objects.get(alert=alert))
    assert summary.headline == (
        "Brightline Outdoor (production): no logs for 3\xa0days "
        "(about 23 expected in that time) — opened"
    )
