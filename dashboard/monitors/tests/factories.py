"""Factories for the monitors' models (clients and users come from their apps' factories)."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import (
    Alert,
    AlertChannel,
    AlertState,
    ChannelKind,
    Metric,
    Monitor,
    MonitorKind,
)


class MonitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Monitor

    client = factory.SubFactory(ClientFactory)
    metric = Metric.SUCCESS_RATE
    kind = MonitorKind.BASELINE
    window_minutes = 60


class AlertFactory(factory.django.DjangoModelFactory):
    """An open alert on a success-rate monitor of the given (or a new) client."""

    class Meta:
        model = Alert

    monitor = factory.SubFactory(MonitorFactory)
    client = factory.LazyAttribute(lambda o: o.monitor.client)
    metric = factory.LazyAttribute(lambda o: o.monitor.metric)
    environment = "production"
    state = AlertState.OPEN
    opened_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=30))
    window_end = factory.LazyAttribute(lambda o: o.opened_at)
    window_start = factory.LazyAttribute(lambda o: o.opened_at - timedelta(hours=1))
    value = 0.42
    sample_size = 120
    baseline_median = 0.91
    baseline_low = 0.84
    baseline_high = 0.97


class AlertChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertChannel

    client = factory.SubFactory(ClientFactory)
    kind = ChannelKind.EMAIL
    email = factory.Sequence(lambda n: f"alerts{n}@example.com")
