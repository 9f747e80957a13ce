"""How an alert event reads in a notification: values, headline, link.

One wording for the e-mail's subject and body, the webhook payload's summary and the
Slack text, so every channel says the same thing about the same event.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.timesince import timesince

from dashboard.monitors.metrics import RATE_METRICS
from dashboard.monitors.models import (
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertState,
    Comparison,
    Metric,
    MonitorKind,
)

WEBHOOK_EVENTS = {
    AlertEventKind.OPENED: "alert.opened",
    AlertEventKind.RESOLVED: "alert.resolved",
}


def metric_format(metric: str, value: float | None) -> str:
    """A metric's value as people read it: rates in percent, p95 in seconds, ..."""
    if value is None:
        return "no data"
    if metric in RATE_METRICS:
        percent = value * 100
        # 0.4% and 0% must not read the same; above 10% the decimals are noise.
        return f"{percent:.1f}%" if 0 < percent < 10 else f"{percent:.0f}%"
    if metric == Metric.P95_EXECUTION:
        return f"{value:.1f} s"
    if metric in (Metric.VOLUME, Metric.SILENCE):
        return f"{value:.0f} runs"
    return f"{value:.2f}"


def alert_url(alert: Alert) -> str:
    """The client's alerts page, absolute (SITE_URL): mail has no request."""
    return f"{settings.SITE_URL}/dashboard/{alert.client.slug}/alerts/"


@dataclass(frozen=True)
class EventSummary:
    """What one alert event says, in words, for every channel."""

    kind: str  # "opened" | "resolved"
    client_name: str
    environment: str
    metric_label: str
    value: str
    normal: str  # "normal 91%", "threshold below 90%", or "" when unknown
    headline: str  # "Acme: success rate 42% (normal 91%) — opened"
    url: str


def event_value(event: AlertEvent) -> float | None:
    """The value the event is about: what opened it, or what it was back to when resolved."""
    alert = event.alert
    if event.kind == AlertEventKind.RESOLVED and alert.last_value is not None:
        return alert.last_value
    return alert.value


def event_summary(event: AlertEvent) -> EventSummary:
    alert = event.alert
    monitor = alert.monitor
    metric_label = Metric(alert.metric).label
    value = metric_format(alert.metric, event_value(event))
    if monitor.kind == MonitorKind.THRESHOLD and monitor.threshold is not None:
        side = Comparison(monitor.comparison).label if monitor.comparison else ""
        normal = f"threshold {side} {metric_format(alert.metric, monitor.threshold)}".replace(
            "  ", " "
        )
    elif alert.baseline_median is not None:
        normal = f"normal {metric_format(alert.metric, alert.baseline_median)}"
    else:
        normal = ""
    where = alert.client.name
    if alert.environment:
        where = f"{where} ({alert.environment})"
    if alert.metric == Metric.SILENCE:
        # The engine keeps the gap as the alert's window: from the last log to the moment
        # it judged (a threshold silence monitor, without a last log, its own window).
        gap = timesince(alert.window_start, alert.window_end, depth=1)
        what = f"no logs for {gap}"
        if alert.baseline_median is not None and monitor.kind != MonitorKind.THRESHOLD:
            what = f"{what} (about {alert.baseline_median:.0f} expected in that time)"
        elif normal:
            what = f"{what} ({normal})"
    else:
        what = f"{metric_label} {value}" + (f" ({normal})" if normal else "")
    return EventSummary(
        kind=event.kind,
        client_name=alert.client.name,
        environment=alert.environment,
        metric_label=metric_label,
        value=value,
        normal=normal,
        headline=f"{where}: {what} — {event.kind}",
        url=alert_url(alert),
    )


def event_state(event: AlertEvent) -> str:
    """The alert's state as of the event (a retried 'opened' still says open)."""
    return AlertState.RESOLVED if event.kind == AlertEventKind.RESOLVED else AlertState.OPEN
