"""Clients, their API keys, and the workflow logs they send."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

# A slug is what deployments send as CLIENT_ID: lowercase, digits, "-" and "_".
slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{1,62}$",
    "Use 2 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)


class Client(models.Model):
    """A company whose workflow deployments send logs; the unit of tenancy."""

    name = models.CharField(max_length=200)
    slug = models.CharField(
        max_length=63,
        unique=True,
        validators=[slug_validator],
        help_text="The CLIENT_ID its deployments send.",
    )
    is_active = models.BooleanField(
        default=True, help_text="Inactive clients' keys are refused with 403."
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Logs older than this are deleted by purge_expired_logs; empty keeps all.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class ApiKey(models.Model):
    """A client's credential. Only a SHA-256 of the secret is kept; the key is shown once."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"flk_{self.prefix}_… ({self.label or 'no label'})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, *, now: datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.expires_at is not None and self.expires_at <= moment


class LogStatus(models.TextChoices):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    ERROR = "ERROR"
    ESCALATED = "ESCALATED"


class WorkflowLog(models.Model):
    """One workflow run. Aggregated metrics are typed columns; the whole document is JSON."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="logs")
    log_id = models.UUIDField(default=uuid.uuid4)
    ticket_id = models.CharField(max_length=128)
    environment = models.CharField(max_length=64, default="production")
    status = models.CharField(max_length=16, choices=LogStatus.choices)
    workflow_version = models.CharField(max_length=64, blank=True, default="")
    timestamp = models.DateTimeField(help_text="When the run ended; received_at when not sent.")
    received_at = models.DateTimeField(default=timezone.now)
    execution_time_seconds = models.FloatField(null=True, blank=True)
    react_iterations = models.PositiveIntegerField(null=True, blank=True)
    overall_confidence = models.FloatField(null=True, blank=True)
    hallucination_risk = models.FloatField(null=True, blank=True)
    product_confidence = models.FloatField(null=True, blank=True)
    vision_matches = models.PositiveIntegerField(null=True, blank=True)
    text_matches = models.PositiveIntegerField(null=True, blank=True)
    error_type = models.CharField(max_length=128, blank=True, default="")
    error_node = models.CharField(max_length=128, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    document = models.JSONField(help_text="The full log as received, after scrubbing.")

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            # The shipper retries; the same log_id twice must be stored once.
            models.UniqueConstraint(fields=["client", "log_id"], name="uniq_log_id_per_client"),
        ]
        indexes = [
            # Period aggregates and the log viewer's keyset pagination (timestamp, id). On
            # PostgreSQL the aggregated columns ride along in the index, so dashboard queries
            # are index-only scans that never read the wide JSON rows (measured: a 30-day
            # window of 330k logs went from 990 ms to 240 ms per query; docs/performance.md).
            # Other databases create the index without them.
            models.Index(
                fields=["client", "timestamp", "id"],
                name="log_client_time",
                include=[
                    "status",
                    "environment",
                    "workflow_version",
                    "execution_time_seconds",
                    "overall_confidence",
                    "hallucination_risk",
                    "react_iterations",
                    "error_type",
                    "error_node",
                ],
            ),
            models.Index(fields=["client", "status", "timestamp"], name="log_client_status_time"),
            models.Index(fields=["client", "ticket_id"], name="log_client_ticket"),
            models.Index(
                fields=["client", "error_type", "timestamp"], name="log_client_error_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.status} {self.timestamp:%Y-%m-%d %H:%M}"
