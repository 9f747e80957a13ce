"""Writes of the collector: clients, API keys, and log ingestion."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from collector.keys import key_generate
from collector.models import ApiKey, Client, WorkflowLog
from collector.scrubbing import DocumentTooDeep, scrub_document
from collector.serializers import LogDocumentSerializer
from flusso_site.errors import ApplicationError

# The error message column is short: the full message stays in the document.
ERROR_MESSAGE_COLUMN_CHARS = 500
# A unique-constraint race with a concurrent request is retried this often before failing.
BATCH_INSERT_ATTEMPTS = 3


# Clients and keys -------------------------------------------------------------------


def client_create(
    *, slug: str, name: str, retention_days: int | None = None, is_active: bool = True
) -> Client:
    client = Client(slug=slug, name=name, retention_days=retention_days, is_active=is_active)
    try:
        client.full_clean()
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The client is not valid.", fields=exc.message_dict, code="invalid"
        ) from None
    client.save()
    return client


def api_key_create(
    *, client: Client, label: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for the client, as (row, full key). The full key is never stored."""
    while True:
        raw_key, prefix, secret_hash = key_generate()
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    api_key = ApiKey.objects.create(
        client=client, label=label, prefix=prefix, secret_hash=secret_hash, expires_at=expires_at
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey, now: datetime | None = None) -> ApiKey:
    """Revoke the key from now on; revoking twice keeps the first time."""
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_mark_used(*, api_key: ApiKey, now: datetime) -> None:
    """Record use, at most once per resolution window, so requests do not all write."""
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is not None and now - api_key.last_used_at < resolution:
        return
    # The conditional update keeps concurrent workers from all writing the same minute.
    ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=now - resolution).update(
        last_used_at=now
    )
    api_key.last_used_at = now


def logs_purge_expired(*, now: datetime | None = None) -> int:
    """Delete logs older than their client's retention_days; returns how many went."""
    moment = now or timezone.now()
    deleted = 0
    for client in Client.objects.filter(retention_days__isnull=False).only("id", "retention_days"):
        cutoff = moment - timedelta(days=client.retention_days or 0)
        count, _ = WorkflowLog.objects.filter(client=client, timestamp__lt=cutoff).delete()
        deleted += count
    return deleted


# Ingestion --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogIngestResult:
    id: int
    log_id: uuid.UUID
    status: Literal["created", "duplicate"]


@dataclass
class BatchIngestResult:
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


_document_serializer = LogDocumentSerializer()


def _document_prepare(*, client: Client, document: Any, received_at: datetime) -> WorkflowLog:
    """An unsaved row from one document: scrubbed, validated and typed.

    Raises ApplicationError (400 with field errors, or 403 on a client_id mismatch).
    """
    if not isinstance(document, dict):
        raise ApplicationError(
            "A log document must be a JSON object.",
            fields={"non_field_errors": ["Expected a JSON object."]},
        )
    try:
        scrubbed = scrub_document(document)
    except DocumentTooDeep:
        raise ApplicationError(
            "The document is nested too deeply.",
            fields={"non_field_errors": ["The document is nested too deeply."]},
        ) from None
    try:
        data = _document_serializer.run_validation(scrubbed)
    except ValidationError as exc:
        raise ApplicationError("The log document has invalid fields.", fields=exc.detail) from None

    sent_client = data.get("client_id")
    if sent_client is not None and sent_client != client.slug:
        raise ApplicationError(
            f"The document's client_id {sent_client!r} does not match the API key's client "
            f"{client.slug!r}.",
            code="client_mismatch",
            status=403,
        )

    log_id = data.get("log_id") or uuid.uuid4()
    timestamp = data.get("timestamp") or received_at
    metrics = data.get("metrics") or {}
    error = data.get("error") or {}
    # The stored document says what the typed columns say.
    scrubbed["log_id"] = str(log_id)
    scrubbed["client_id"] = client.slug
    scrubbed.setdefault("environment", data["environment"])
    return WorkflowLog(
        client=client,
        log_id=log_id,
        ticket_id=data["ticket_id"],
        environment=data["environment"],
        status=data["status"],
        workflow_version=data.get("workflow_version", ""),
        timestamp=timestamp,
        received_at=received_at,
        execution_time_seconds=data.get("execution_time_seconds"),
        react_iterations=metrics.get("react_iterations"),
        overall_confidence=metrics.get("overall_confidence"),
        hallucination_risk=metrics.get("hallucination_risk"),
        product_confidence=metrics.get("product_confidence"),
        vision_matches=metrics.get("vision_matches"),
        text_matches=metrics.get("text_matches"),
        error_type=error.get("type", ""),
        error_node=error.get("node", ""),
        # Already scrubbed with the whole document above.
        error_message=error.get("message", "")[:ERROR_MESSAGE_COLUMN_CHARS],
        document=scrubbed,
    )


def log_ingest(*, client: Client, document: Any) -> LogIngestResult:
    """Store one log. The same log_id again for the client stores nothing: a duplicate."""
    log = _document_prepare(client=client, document=document, received_at=timezone.now())
    try:
        with transaction.atomic():
            log.save(force_insert=True)
    except IntegrityError:
        existing = WorkflowLog.objects.filter(client=client, log_id=log.log_id).only("id").first()
        if existing is None:
            raise
        return LogIngestResult(id=existing.id, log_id=log.log_id, status="duplicate")
    return LogIngestResult(id=log.id, log_id=log.log_id, status="created")


def _document_size_check(document: Any) -> None:
    limit = settings.INGEST_MAX_DOCUMENT_BYTES
    size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        raise ApplicationError(
            f"The document is larger than the limit of {limit} bytes.",
            code="payload_too_large",
            fields={"non_field_errors": [f"The document is {size} bytes; the limit is {limit}."]},
        )


def log_batch_ingest(
    *, client: Client, documents: list[Any], body_bytes: int = 0
) -> BatchIngestResult:
    """Store the valid documents of a batch in one transaction; report the rest by index.

    A client_id mismatch in any document refuses the whole batch (403): it means the
    deployment is misconfigured, and its logs must be kept by the sender, not dropped.
    ``body_bytes`` is the batch's size; only past the one-document limit can a single
    document exceed it, so only then are documents measured one by one.
    """
    received_at = timezone.now()
    result = BatchIngestResult()
    items: list[dict[str, Any]] = [{"index": index} for index in range(len(documents))]
    pending: dict[uuid.UUID, tuple[dict[str, Any], WorkflowLog]] = {}
    measure = body_bytes > settings.INGEST_MAX_DOCUMENT_BYTES

    for item, document in zip(items, documents, strict=True):
        try:
            if measure:
                _document_size_check(document)
            log = _document_prepare(client=client, document=document, received_at=received_at)
        except ApplicationError as exc:
            if exc.code == "client_mismatch":
                raise
            item.update(status="rejected", errors=exc.fields or {"non_field_errors": [exc.message]})
            continue
        if log.log_id in pending:  # the same log twice in one batch
            item.update(status="duplicate", log_id=str(log.log_id))
            continue
        pending[log.log_id] = (item, log)

    existing: set[uuid.UUID] = set()
    for attempt in range(BATCH_INSERT_ATTEMPTS if pending else 0):
        existing = set(
            WorkflowLog.objects.filter(client=client, log_id__in=list(pending)).values_list(
                "log_id", flat=True
            )
        )
        to_create = [log for log_id, (_, log) in pending.items() if log_id not in existing]
        try:
            with transaction.atomic():
                WorkflowLog.objects.bulk_create(to_create)
            break
        except IntegrityError:
            # A concurrent request stored one of these first: look again and retry.
            if attempt == BATCH_INSERT_ATTEMPTS - 1:
                raise
            for log in to_create:
                log.pk = None
                log._state.adding = True

    for log_id, (item, log) in pending.items():
        if log_id in existing:
            item.update(status="duplicate", log_id=str(log_id))
        else:
            item.update(status="created", log_id=str(log_id), id=log.pk)

    for item in items:
        setattr(result, item["status"], getattr(result, item["status"]) + 1)
    result.results = items
    return result
