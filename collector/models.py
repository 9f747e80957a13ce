"""Clients, their API keys, and the workflow logs they send."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Expression, F, Q, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

# A slug is what deployments send as CLIENT_ID: lowercase, digits, "-" and "_".
slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{1,62}$",
    "Use 2 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)

# Names a client may not have: the dashboard's fixed paths at /dashboard/<name>/, which
# come before the "<client_slug>/" routes and would hide that client's dashboard.
RESERVED_SLUGS = frozenset({"report", "compare", "unsubscribe", "alerts", "static", "api"})


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

    def clean(self) -> None:
        # Checked here (full_clean: admin and client_create) rather than as a field
        # validator, which would change the field's migration state for no schema change.
        if self.slug in RESERVED_SLUGS:
            raise ValidationError(
                {"slug": f"{self.slug!r} is reserved for a dashboard page; choose another."}
            )


class ApiKeyScope(models.TextChoices):
    """What a key may do: send logs (``ingest``) or read the client's data (``read``)."""

    INGEST = "ingest"
    READ = "read"


class ApiKey(models.Model):
    """A client's credential. Only a SHA-256 of the secret is kept; the key is shown once.

    Its scopes are two booleans (one per ``ApiKeyScope``): the authentication reads the
    row anyway, so checking a scope costs nothing, and a key has at least one of them.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    scope_ingest = models.BooleanField(
        "ingest", default=True, help_text="May send logs (POST /api/v1/logs, /logs/batch)."
    )
    scope_read = models.BooleanField(
        "read",
        default=False,
        help_text="May read the client's figures and logs (GET /api/v1/stats, /logs/<id>).",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope_ingest=True) | Q(scope_read=True), name="api_key_has_a_scope"
            )
        ]

    def __str__(self) -> str:
        return f"flk_{self.prefix}_… ({self.label or 'no label'})"

    @property
    def scopes(self) -> list[str]:
        """The key's scopes, in ``ApiKeyScope`` order."""
        held = {ApiKeyScope.INGEST: self.scope_ingest, ApiKeyScope.READ: self.scope_read}
        return [scope.value for scope, has in held.items() if has]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def clean(self) -> None:
        if not (self.scope_ingest or self.scope_read):
            raise ValidationError("Give the key at least one scope: ingest, read or both.")

    def is_expired(self, *, now: datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.expires_at is not None and self.expires_at <= moment


class ApiKeyEventKind(models.TextChoices):
    CREATED = "created"
    REVOKED = "revoked"
    REVOKED_KEY_USED = "revoked_key_used", "revoked key used"


class ApiKeyEventSource(models.TextChoices):
    ADMIN = "admin"
    COMMAND_LINE = "command_line", "command line"
    API = "api", "API request"


class ApiKeyEvent(models.Model):
    """The audit trail of a key: created, revoked, and a revoked key presented to the API.

    Written only by ``collector.services.clients``; read-only in admin. The key prefix and
    the client's slug are copied, so the trail reads the same after a key's client is
    deleted. Uses of a revoked key are recorded at most once per key per
    ``API_KEY_REVOKED_USE_EVENT_SECONDS`` (a flood of them writes a handful of rows).
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="events")
    key_prefix = models.CharField(max_length=16)
    client_slug = models.CharField(max_length=63)
    kind = models.CharField(max_length=16, choices=ApiKeyEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    # Who: a staff user in admin; nobody on the command line or for an API request.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(max_length=16, choices=ApiKeyEventSource.choices)
    # The caller's address, for uses of a revoked key (TRUSTED_PROXY_COUNT decides which).
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "API key event"
        indexes = [models.Index(fields=["api_key", "kind", "at"], name="key_event_key_kind_at")]

    def __str__(self) -> str:
        return f"flk_{self.key_prefix}_… {self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class LogStatus(models.TextChoices):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    ERROR = "ERROR"
    ESCALATED = "ESCALATED"


class ClientScopedQuerySet(models.QuerySet):
    """Tenant filtering in one place: every per-client read goes through ``for_client``."""

    def for_client(self, client: Client | int | Expression) -> ClientScopedQuerySet:
        """Rows of one client: a Client, its id, or an expression (``OuterRef("pk")``)."""
        return self.filter(client_id=client.pk if isinstance(client, Client) else client)

    def for_clients(self, clients: Iterable[Client | int]) -> ClientScopedQuerySet:
        """Rows of several clients: the owner's unscoped views, which name themselves so."""
        ids = [c.pk if isinstance(c, Client) else c for c in clients]
        return self.filter(client_id__in=ids)


# The log viewer's metric sorts put a missing value below every real one (metrics are
# never negative); the index and the query must use this very expression.
MISSING_METRIC = -1.0
SORTABLE_METRICS = (
    "overall_confidence",
    "hallucination_risk",
    "execution_time_seconds",
    "react_iterations",
)


def metric_sort_expression(field_name: str) -> Coalesce:
    return Coalesce(Cast(field_name, models.FloatField()), Value(MISSING_METRIC))


class WorkflowLog(models.Model):
    """One workflow run. Aggregated metrics are typed columns; the whole document is JSON.

    On PostgreSQL the table is partitioned by month of ``timestamp`` (see
    ``collector.partitions``); its primary key there is (id, timestamp), ids still come
    from one sequence. Uniqueness of (client, log_id) lives in ``LogReceipt``, since a
    partitioned table cannot hold a unique constraint without the partition key.
    Logs are written only through ``collector.services`` (which keeps the rollups).
    """

    # Not indexed alone: every index of the table starts with the client.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="logs", db_index=False
    )
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

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            # The log viewer's time order and keyset pages, and the read model's bounded
            # edge scans (the dashboards no longer aggregate this table).
            models.Index(fields=["client", "timestamp", "id"], name="log_client_time"),
            models.Index(fields=["client", "status", "timestamp"], name="log_client_status_time"),
            models.Index(fields=["client", "ticket_id"], name="log_client_ticket"),
            models.Index(
                fields=["client", "error_type", "timestamp"], name="log_client_error_time"
            ),
            # A run's page by its log_id (LogReceipt says which partition holds it).
            models.Index(fields=["client", "log_id"], name="log_client_log_id"),
            # One index per sortable metric within the client, in the viewer's order, so
            # a metric-sorted page is an index range however many logs the client has.
            *(
                models.Index(
                    F("client"),
                    metric_sort_expression(name),
                    F("id"),
                    name=f"log_client_sort_{name[:10]}",
                )
                for name in SORTABLE_METRICS
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.status} {self.timestamp:%Y-%m-%d %H:%M}"


class LogReceipt(models.Model):
    """The idempotency record: one row per (client, log_id) ever stored.

    Unpartitioned and narrow, so a retry is found however old the log's partition is and
    whatever timestamp the retry carries. ``timestamp`` is the stored log's, which names
    its partition for lookups and for retention.
    """

    pk = models.CompositePrimaryKey("client_id", "log_id")
    # No database constraint (Django still cascades deletes): each foreign-key check locks
    # the client's row (FOR KEY SHARE), and with every request of a client checking the
    # same row, PostgreSQL builds a new multixact per request. The log row keeps its
    # constraint; receipts and rollups are written beside it in the same statement.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    log_id = models.UUIDField()
    timestamp = models.DateTimeField()

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["timestamp"], name="receipt_time")]

    def __str__(self) -> str:
        return f"{self.log_id} ({self.timestamp:%Y-%m-%d})"


class Grain(models.TextChoices):
    HOUR = "h", "hour"
    DAY = "d", "UTC day"
    # The same, over all of a client's environments and versions (those left empty): an
    # unfiltered page reads one row per hour or day instead of one per combination.
    HOUR_ALL = "H", "hour, all environments and versions"
    DAY_ALL = "D", "UTC day, all environments and versions"


class _Rollup(models.Model):
    """Fields every rollup row has.

    Each log is counted in its UTC hour and in its UTC day (``grain``), so a long window
    reads days and only its partial days read hours; and, once compacted, again in both
    over all the client's environments and versions (upper-case grains), which unfiltered
    pages read.
    Rows are appended by writers (deltas, never updated, so concurrent requests never
    wait on one another's row) and merged by compaction into one ``compacted`` row per
    key; every read sums all rows of a key.
    """

    # No database constraint, as for LogReceipt: Django cascades the deletes.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    grain = models.CharField(max_length=1, choices=Grain.choices)
    start = models.DateTimeField(help_text="Start of the UTC hour or day.")
    environment = models.CharField(max_length=64)
    workflow_version = models.CharField(max_length=64)
    compacted = models.BooleanField(default=False)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        state = "compacted" if self.compacted else "delta"
        return (
            f"{type(self).__name__} {self.grain} {self.start:%Y-%m-%d %H:%M} "
            f"{self.environment}/{self.workflow_version} ({state})"
        )


def _rollup_meta(
    name: str, key: list[str], include: list[str] | None = None
) -> tuple[list[models.Index], list[models.UniqueConstraint]]:
    """The indexes every rollup table has: reads by (client, grain, start), compaction's
    pending rows, and one compacted row per key."""
    indexes = [
        models.Index(
            fields=["client", "grain", "start"], include=include or [], name=f"{name}_read"
        ),
        # The pending deltas: compaction's to-do list, and what reads of every environment
        # add to the rows deltas are folded into.
        models.Index(
            fields=["client", "grain", "start"],
            condition=Q(compacted=False),
            name=f"{name}_pending",
        ),
    ]
    constraints = [
        models.UniqueConstraint(
            fields=key, condition=Q(compacted=True), name=f"{name}_one_compacted"
        )
    ]
    return indexes, constraints


_KEY = ["client", "grain", "start", "environment", "workflow_version"]


class Rollup(_Rollup):
    """Per client, UTC hour or day, environment and version: what every chart and KPI adds."""

    runs = models.IntegerField(default=0)
    n_success = models.IntegerField(default=0)
    n_failed = models.IntegerField(default=0)
    n_error = models.IntegerField(default=0)
    n_escalated = models.IntegerField(default=0)
    n_with_error = models.IntegerField(default=0)
    conf_n = models.IntegerField(default=0)
    conf_sum = models.FloatField(default=0)
    risk_n = models.IntegerField(default=0)
    risk_sum = models.FloatField(default=0)
    iter_n = models.IntegerField(default=0)
    iter_sum = models.FloatField(default=0)
    exec_n = models.IntegerField(default=0)
    exec_sum = models.FloatField(default=0)
    # The execution-time chart: runs per bucket of readmodel.facts.EXECUTION_TIME_EDGES.
    exec_h0 = models.IntegerField(default=0)
    exec_h1 = models.IntegerField(default=0)
    exec_h2 = models.IntegerField(default=0)
    exec_h3 = models.IntegerField(default=0)
    exec_h4 = models.IntegerField(default=0)
    exec_h5 = models.IntegerField(default=0)
    exec_h6 = models.IntegerField(default=0)
    exec_h7 = models.IntegerField(default=0)
    exec_h8 = models.IntegerField(default=0)
    exec_h9 = models.IntegerField(default=0)
    # Calibration: runs (cal_n) and successes (cal_s) per confidence tenth.
    cal_n0 = models.IntegerField(default=0)
    cal_n1 = models.IntegerField(default=0)
    cal_n2 = models.IntegerField(default=0)
    cal_n3 = models.IntegerField(default=0)
    cal_n4 = models.IntegerField(default=0)
    cal_n5 = models.IntegerField(default=0)
    cal_n6 = models.IntegerField(default=0)
    cal_n7 = models.IntegerField(default=0)
    cal_n8 = models.IntegerField(default=0)
    cal_n9 = models.IntegerField(default=0)
    cal_s0 = models.IntegerField(default=0)
    cal_s1 = models.IntegerField(default=0)
    cal_s2 = models.IntegerField(default=0)
    cal_s3 = models.IntegerField(default=0)
    cal_s4 = models.IntegerField(default=0)
    cal_s5 = models.IntegerField(default=0)
    cal_s6 = models.IntegerField(default=0)
    cal_s7 = models.IntegerField(default=0)
    cal_s8 = models.IntegerField(default=0)
    cal_s9 = models.IntegerField(default=0)
    # The newest log's timestamp (deltas that subtract leave it empty).
    last_at = models.DateTimeField(null=True)

    class Meta:
        indexes, constraints = _rollup_meta("rollup", _KEY)


class ErrorRollup(_Rollup):
    """Per client, hour or day, environment, version, error type and node: error breakdowns."""

    error_type = models.CharField(max_length=128)
    error_node = models.CharField(max_length=128)
    runs = models.IntegerField(default=0)
    last_at = models.DateTimeField(null=True)

    class Meta:
        indexes, constraints = _rollup_meta("rollup_error", [*_KEY, "error_type", "error_node"])


class DurationRollup(_Rollup):
    """Per client, hour or day, environment, version and duration bucket: runs in it.

    The log-spaced histogram (readmodel.facts.duration_bucket) p50/p95 are read from.
    """

    bucket = models.SmallIntegerField()
    runs = models.IntegerField(default=0)

    class Meta:
        indexes, constraints = _rollup_meta(
            "rollup_duration",
            [*_KEY, "bucket"],
            include=["environment", "workflow_version", "bucket", "runs"],
        )
