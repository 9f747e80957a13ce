"""An alert's lifecycle: opened, acknowledged, resolved; each step recorded once.

Every transition writes its ``AlertEvent`` in the same transaction (one per alert and
kind, by constraint), and the channels are told of events, not of rows, so a step taken
twice is a no-op and never notifies twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.monitors.models import Alert, AlertEvent, AlertEventKind, AlertState, Monitor
from flusso_site.errors import ApplicationError


class AlertAlreadyResolved(ApplicationError):
    """The alert was resolved already; nothing changed."""


def alert_open(*, monitor: Monitor, environment: str, at: dt.datetime, **seen: Any) -> Alert | None:
    """Open an alert for the monitor and environment, unless one is unresolved already.

    ``seen`` holds the Alert fields of what the monitor saw (window, value, band, ...).
    Returns None when an unresolved alert exists (a second evaluation of the same moment).
    """
    if (
        Alert.objects.filter(monitor=monitor, environment=environment)
        .exclude(state=AlertState.RESOLVED)
        .exists()
    ):
        return None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                monitor=monitor,
                client_id=monitor.client_id,
                metric=monitor.metric,
                environment=environment,
                opened_at=at,
                last_evaluated_at=at,
                **seen,
            )
            AlertEvent.objects.create(alert=alert, kind=AlertEventKind.OPENED, at=at)
    except IntegrityError:  # a concurrent evaluation opened it first
        return None
    return alert


def alert_acknowledge(
    *, alert: Alert, user: AbstractBaseUser, now: dt.datetime | None = None
) -> Alert:
    """Someone is on it. Acknowledging twice keeps the first who and when."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.state == AlertState.RESOLVED:
            raise AlertAlreadyResolved("This alert is resolved already.", code="alert_resolved")
        if alert.state == AlertState.OPEN:
            alert.state = AlertState.ACKNOWLEDGED
            alert.acknowledged_at = now
            alert.acknowledged_by = user
            alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
            AlertEvent.objects.get_or_create(
                alert=alert, kind=AlertEventKind.ACKNOWLEDGED, defaults={"at": now, "by": user}
            )
    return alert


def alert_resolve(
    *, alert: Alert, user: AbstractBaseUser | None = None, now: dt.datetime | None = None
) -> Alert:
    """Resolve by hand (``user``) or because the metric came back (no user). Resolving a
    resolved alert changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.state == AlertState.RESOLVED:
            return alert
        alert.state = AlertState.RESOLVED
        alert.resolved_at = now
        alert.resolved_by = user
        alert.save(update_fields=["state", "resolved_at", "resolved_by"])
        AlertEvent.objects.get_or_create(
            alert=alert, kind=AlertEventKind.RESOLVED, defaults={"at": now, "by": user}
        )
    return alert
