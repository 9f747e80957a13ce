"""The bare reference's table: the log table's columns and indexes, nothing else."""

from __future__ import annotations

from django.db import models
from django.db.models import F

from collector.models import Client, metric_sort_expression


class BareLog(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, db_index=False)
    log_id = models.UUIDField()
    ticket_id = models.CharField(max_length=128)
    environment = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    workflow_version = models.CharField(max_length=64, blank=True, default="")
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    execution_time_seconds = models.FloatField(null=True)
    react_iterations = models.PositiveIntegerField(null=True)
    overall_confidence = models.FloatField(null=True)
    hallucination_risk = models.FloatField(null=True)
    product_confidence = models.FloatField(null=True)
    vision_matches = models.PositiveIntegerField(null=True)
    text_matches = models.PositiveIntegerField(null=True)
    error_type = models.CharField(max_length=128, blank=True, default="")
    error_node = models.CharField(max_length=128, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    document = models.JSONField()

    class Meta:
        app_label = "reference"
        indexes = [
            models.Index(fields=["client", "timestamp", "id"], name="bare_client_time"),
            models.Index(fields=["client", "status", "timestamp"], name="bare_status_time"),
            models.Index(fields=["client", "ticket_id"], name="bare_ticket"),
            models.Index(fields=["client", "error_type", "timestamp"], name="bare_error_time"),
            models.Index(fields=["client", "log_id"], name="bare_log_id"),
            *(
                models.Index(
                    F("client"),
                    metric_sort_expression(name),
                    F("id"),
                    name=f"bare_sort_{name[:10]}",
                )
                for name in (
                    "overall_confidence",
                    "hallucination_risk",
                    "execution_time_seconds",
                    "react_iterations",
                )
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.status}"
