"""The monitors every active client gets without anyone configuring them."""

from __future__ import annotations

from django.db.models import Count, Q

from collector.models import Client
from dashboard.monitors.models import Metric, Monitor, MonitorKind

# The last hour and the last six hours: a sharp break shows in the first, a slow slide
# (or a client with few runs per hour) in the second.
DEFAULT_WINDOWS = (60, 360)
# Silence has no window of its own (it watches the gap since the last log); one monitor.
SILENCE_WINDOW = 60
DEFAULT_METRICS = (
    Metric.SUCCESS_RATE,
    Metric.ESCALATION_RATE,
    Metric.ERROR_RATE,
    Metric.CONFIDENCE,
    Metric.HALLUCINATION_RISK,
    Metric.P95_EXECUTION,
    Metric.VOLUME,
)


def default_monitor_keys() -> list[tuple[str, int]]:
    """(metric, window) of every default monitor."""
    keys = [(metric, window) for metric in DEFAULT_METRICS for window in DEFAULT_WINDOWS]
    return [*keys, (Metric.SILENCE, SILENCE_WINDOW)]


def monitors_ensure_defaults() -> int:
    """Give every active client the default monitors it lacks; returns how many were made.

    Idempotent by the one-default-per-(client, metric, environment, window) constraint;
    existing monitors are never touched, so an owner's tuning, muting or disabling stays.
    (A deleted default monitor comes back: turn it off instead.) Clients that have them
    all cost one query.
    """
    keys = default_monitor_keys()
    lacking = (
        Client.objects.filter(is_active=True)
        .annotate(defaults=Count("monitors", filter=Q(monitors__is_default=True)))
        .filter(defaults__lt=len(keys))
        .values_list("pk", flat=True)
    )
    rows = [
        Monitor(
            client_id=client_id,
            metric=metric,
            kind=MonitorKind.BASELINE,
            window_minutes=window,
            is_default=True,
        )
        for client_id in lacking
        for metric, window in keys
    ]
    if not rows:
        return 0
    before = Monitor.objects.filter(is_default=True).count()
    Monitor.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return Monitor.objects.filter(is_default=True).count() - before
