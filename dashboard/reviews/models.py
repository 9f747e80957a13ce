"""Verdicts: what a client's staff (or the owner) judged of a run, and their history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from collector.models import Client, ClientScopedQuerySet, LogStatus

# Bounds of the text a reviewer types, after scrubbing: a note is a remark, a better
# answer is a support reply (the workflow's own answers are a few thousand characters).
NOTE_MAX_CHARS = 2000
BETTER_ANSWER_MAX_CHARS = 8000


class VerdictKind(models.TextChoices):
    CORRECT = "correct", "correct"
    INCORRECT = "incorrect", "incorrect"
    SHOULD_HAVE_ESCALATED = "should_have_escalated", "should have escalated"
    ESCALATED_NEEDLESSLY = "escalated_needlessly", "escalated needlessly"


class Verdict(models.Model):
    """The current verdict on one run: one per (client, log_id).

    Written only by ``dashboard.reviews.services``. The log is named by its log_id, not
    by a foreign key: the log table is partitioned on PostgreSQL and has no unique key to
    point at. What the figures need of the log (its time, environment, version, status
    and confidence) is copied here when the verdict is recorded, so they never join the
    log table. Retention deletes a log's verdict with the log
    (``collector.services.retention``); deleting the client cascades.
    """

    # Not indexed alone: the unique constraint and the index below start with the client.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="verdicts", db_index=False
    )
    log_id = models.UUIDField()
    kind = models.CharField(max_length=24, choices=VerdictKind.choices)
    note = models.TextField(blank=True, default="")
    better_answer = models.TextField(
        blank=True, default="", help_text="Only for an incorrect answer."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Copied from the log when recorded.
    timestamp = models.DateTimeField()
    environment = models.CharField(max_length=64)
    workflow_version = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=LogStatus.choices)
    overall_confidence = models.FloatField(null=True, blank=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "log_id"], name="verdict_one_per_log")
        ]
        indexes = [
            # The figures' windows, and retention's dropped months.
            models.Index(fields=["client", "timestamp"], name="verdict_client_time"),
        ]

    def __str__(self) -> str:
        return f"{self.log_id}: {self.get_kind_display()}"


class VerdictEvent(models.Model):
    """One recording or change of a verdict, as stored: the history its page shows."""

    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=24, choices=VerdictKind.choices)
    note = models.TextField(blank=True, default="")
    better_answer = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class VerdictRollup(models.Model):
    """Verdict counts per (client, UTC hour or day, environment, version, log status,
    verdict kind, confidence bucket): what the dashboards and monitors read.

    Written only by ``dashboard.reviews.readmodel`` in the transaction that changes the
    verdicts it counts: one row per key, updated in place by an upsert (verdicts come at
    the pace of people clicking, not of ingestion, so the collector's append-only deltas
    and compaction would buy nothing here). ``bucket`` is the calibration bucket of the
    run's confidence (``collector.readmodel.facts.calibration_bucket``), -1 without one.
    Grains: "h" (hour) and "d" (day) only; a read over every environment sums the rows of
    each (a client has a handful of combinations with verdicts, not one per log).
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    grain = models.CharField(max_length=1)
    start = models.DateTimeField()
    environment = models.CharField(max_length=64)
    workflow_version = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=LogStatus.choices)
    kind = models.CharField(max_length=24, choices=VerdictKind.choices)
    bucket = models.SmallIntegerField()
    n = models.IntegerField(default=0)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target, and the index every window read uses.
            models.UniqueConstraint(
                fields=[
                    "client",
                    "grain",
                    "start",
                    "environment",
                    "workflow_version",
                    "status",
                    "kind",
                    "bucket",
                ],
                name="verdict_rollup_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.grain} {self.start:%Y-%m-%d %H:%M} {self.status} {self.kind}: {self.n}"
