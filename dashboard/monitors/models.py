"""Monitors, the alerts they open, where alerts and reports go, and what was delivered.

Monitors read the read model (collector.readmodel), never raw log scans. Every write that
must not happen twice (an alert opening, a notification, a report) has a unique constraint
behind it, so evaluating or delivering twice is harmless.
"""

from __future__ import annotations

import math
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from collector.models import Client, ClientScopedQuerySet


class Metric(models.TextChoices):
    SUCCESS_RATE = "success_rate", "success rate"
    ESCALATION_RATE = "escalation_rate", "escalation rate"
    ERROR_RATE = "error_rate", "error rate (FAILED + ERROR)"
    CONFIDENCE = "avg_confidence", "average overall confidence"
    HALLUCINATION_RISK = "avg_hallucination_risk", "average hallucination risk"
    P95_EXECUTION = "p95_execution_seconds", "p95 execution time"
    VOLUME = "volume", "volume (runs)"
    SILENCE = "silence", "silence (no logs)"
    # From the verdicts client staff record (dashboard.reviews), not the workflow's logs.
    JUDGED_CORRECT = "judged_correct_rate", "share of reviewed runs judged correct"


class MonitorKind(models.TextChoices):
    BASELINE = "baseline", "against the client's own baseline"
    THRESHOLD = "threshold", "plain threshold"


class Comparison(models.TextChoices):
    BELOW = "lt", "below"
    ABOVE = "gt", "above"


# A monitor's bounds: what the engine can judge (a window longer than the baseline's week
# compares a week with itself; a cool-down or window of 2**31 minutes overflows a date).
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_COOLDOWN_MINUTES = 30 * 24 * 60
MAX_SENSITIVITY = 100.0
MAX_MIN_SAMPLES = 1_000_000


def validate_sensitivity(value: float) -> None:
    if not (math.isfinite(value) and 0 < value <= MAX_SENSITIVITY):
        raise ValidationError(
            f"Sensitivity must be more than 0 and at most {MAX_SENSITIVITY:g} spreads."
        )


def validate_finite(value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValidationError("The threshold must be a finite number.")


def monitor_problem(
    *,
    window_minutes: int,
    cooldown_minutes: int,
    sensitivity: float,
    min_samples: int,
    threshold: float | None,
) -> str:
    """What makes these settings impossible to judge ("" when nothing does): the
    validators' bounds, checked again where rows may have bypassed them (an update(),
    a raw write)."""
    if not 1 <= window_minutes <= MAX_WINDOW_MINUTES:
        return f"window_minutes {window_minutes} outside 1-{MAX_WINDOW_MINUTES}"
    if not 0 <= cooldown_minutes <= MAX_COOLDOWN_MINUTES:
        return f"cooldown_minutes {cooldown_minutes} outside 0-{MAX_COOLDOWN_MINUTES}"
    if not (math.isfinite(sensitivity) and 0 < sensitivity <= MAX_SENSITIVITY):
        return f"sensitivity {sensitivity} outside (0, {MAX_SENSITIVITY:g}]"
    if not 0 <= min_samples <= MAX_MIN_SAMPLES:
        return f"min_samples {min_samples} outside 0-{MAX_MIN_SAMPLES}"
    if threshold is not None and not math.isfinite(threshold):
        return f"threshold {threshold} is not finite"
    return ""


class Monitor(models.Model):
    """One metric of one client, watched over a recent window.

    Default monitors (``is_default``) are created for every active client; the owner tunes,
    mutes or turns them off in admin, and adds threshold monitors where a contract asks.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="monitors")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    kind = models.CharField(
        max_length=16, choices=MonitorKind.choices, default=MonitorKind.BASELINE
    )
    # Empty: each of the client's environments on its own (a baseline monitor), or all of
    # them together (a threshold monitor). Set: that environment only.
    environment = models.CharField(max_length=64, blank=True, default="")
    window_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WINDOW_MINUTES)],
        help_text="The recent window compared with the baseline (or the threshold), "
        "1 minute to 7 days.",
    )
    # Threshold monitors only.
    comparison = models.CharField(max_length=2, choices=Comparison.choices, blank=True, default="")
    threshold = models.FloatField(null=True, blank=True, validators=[validate_finite])
    # Tuning (baseline monitors; min_samples and cooldown apply to both kinds).
    sensitivity = models.FloatField(
        default=3.0,
        validators=[validate_sensitivity],
        help_text="How many robust standard deviations (1.4826 x MAD) count as drift "
        "(more than 0, at most 100).",
    )
    min_samples = models.PositiveIntegerField(
        default=20,
        validators=[MaxValueValidator(MAX_MIN_SAMPLES)],
        help_text="Fewest runs in the window before a rate or mean can alert.",
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(MAX_COOLDOWN_MINUTES)],
        help_text="After an alert resolves, how long before this monitor may open another "
        "(at most 30 days).",
    )

    enabled = models.BooleanField(default=True)
    muted_until = models.DateTimeField(
        null=True, blank=True, help_text="Evaluated and shown, but notifies nobody until then."
    )
    is_default = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["client__name", "metric", "window_minutes"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "metric", "environment", "window_minutes"],
                condition=Q(is_default=True),
                name="monitors_one_default_per_metric_window",
            )
        ]

    def __str__(self) -> str:
        return f"{self.client.slug}: {self.get_metric_display()} ({self.window_minutes} min)"


class AlertState(models.TextChoices):
    OPEN = "open", "open"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    RESOLVED = "resolved", "resolved"


class Alert(models.Model):
    """A monitor found its metric out of the normal band for one environment."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    # The monitor's client, kept on the row so alerts are scoped like logs are.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alerts")
    metric = models.CharField(max_length=32, choices=Metric.choices)
    environment = models.CharField(max_length=64, blank=True, default="")
    state = models.CharField(max_length=16, choices=AlertState.choices, default=AlertState.OPEN)
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Empty when it resolved by itself (the metric came back).
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the monitor saw when it opened: the window, its value, the baseline band.
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    sample_size = models.PositiveIntegerField(default=0)
    baseline_median = models.FloatField(null=True, blank=True)
    baseline_low = models.FloatField(null=True, blank=True)
    baseline_high = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    # The latest evaluation while open (value, band, when), for the page.
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = models.Manager()

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["client", "state", "opened_at"], name="alerts_client_state")
        ]
        constraints = [
            # At most one unresolved alert per monitor and environment: a second evaluation
            # of the same moment cannot open a second one.
            models.UniqueConstraint(
                fields=["monitor", "environment"],
                condition=~Q(state="resolved"),
                name="alerts_one_unresolved_per_monitor_environment",
            )
        ]

    def __str__(self) -> str:
        since = f"{self.opened_at:%Y-%m-%d %H:%M}"
        return f"{self.client.slug}: {self.get_metric_display()} {self.state} since {since}"


class AlertEventKind(models.TextChoices):
    OPENED = "opened", "opened"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    RESOLVED = "resolved", "resolved"


class AlertEvent(models.Model):
    """What happened to an alert, once each: the history, and what channels are told of."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=AlertEventKind.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set once notifications for this event have been queued (Delivery rows made).
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "kind"], name="alert_events_once_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.alert}: {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class ChannelKind(models.TextChoices):
    EMAIL = "email", "e-mail"
    WEBHOOK = "webhook", "webhook"


def _webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class AlertChannel(models.Model):
    """Where a client's alerts (or, with no client, every client's: the owner's) go."""

    client = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_channels",
        help_text="Empty: the owner's channel, told of every client's alerts.",
    )
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    email = models.EmailField(blank=True, default="")
    url = models.URLField(max_length=500, blank=True, default="")
    secret = models.CharField(
        max_length=128, default=_webhook_secret, help_text="Signs webhook bodies (HMAC-SHA256)."
    )
    slack = models.BooleanField(default=False, help_text="Send a Slack-compatible body.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["client__name", "kind", "pk"]

    def __str__(self) -> str:
        whose = self.client.slug if self.client_id else "owner"
        return f"{whose}: {self.email or self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed (gave up)"


class Delivery(models.Model):
    """One notification of one alert event to one channel or one opted-in user."""

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(
        AlertChannel, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="deliveries_due"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel"],
                condition=Q(channel__isnull=False),
                name="deliveries_once_per_channel",
            ),
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=Q(user__isnull=False),
                name="deliveries_once_per_user",
            ),
        ]

    def __str__(self) -> str:
        to = self.channel or self.user
        return f"{self.event} → {to}: {self.status}"


def _unsubscribe_token() -> str:
    return secrets.token_urlsafe(24)


class NotificationSettings(models.Model):
    """A user's mail: alert e-mails (opt in) and the weekly report (on by default)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    alert_emails = models.BooleanField(default=False)
    weekly_report = models.BooleanField(default=True)
    # The one-click unsubscribe link's secret; rotating it invalidates old links.
    unsubscribe_token = models.CharField(max_length=64, unique=True, default=_unsubscribe_token)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        alerts = "on" if self.alert_emails else "off"
        report = "on" if self.weekly_report else "off"
        return f"{self.user}: alert e-mails {alerts}, weekly report {report}"


class ReportDeliveryQuerySet(ClientScopedQuerySet):
    """Deliveries of a client's report (``for_client``) or of the owner's (``owners``)."""

    def owners(self) -> ReportDeliveryQuerySet:
        """The owner's reports over all clients: the rows without a client."""
        return self.filter(client__isnull=True)


class ReportDelivery(models.Model):
    """One weekly report sent to one address: at most once per week, client and address."""

    week = models.DateField(help_text="The Monday (UTC) the report's week starts on.")
    client = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: the owner's report over all clients.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField()
    sent_at = models.DateTimeField(default=timezone.now)

    objects = ReportDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-week", "email"]
        verbose_name_plural = "report deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["week", "client", "email"],
                condition=Q(client__isnull=False),
                name="report_once_per_week_client_email",
            ),
            models.UniqueConstraint(
                fields=["week", "email"],
                condition=Q(client__isnull=True),
                name="report_once_per_week_owner_email",
            ),
        ]

    def __str__(self) -> str:
        whose = self.client.slug if self.client_id else "owner"
        return f"{whose} week of {self.week}: {self.email}"
