"""Ingestion: documents scrubbed, validated and stored once, with their rollup deltas.

Every log the service stores goes through ``store.logs_store``: its idempotency receipt,
the row and the read model's delta rows are written atomically, so an acknowledged log is
counted exactly once by every dashboard (docs/dashboard.md, "The read model").
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from collector.errors import ClientMismatch, DocumentInvalid, PayloadTooLarge
from collector.models import Client, WorkflowLog
from collector.scrubbing import DocumentTooDeep, scrub_document
from collector.services.store import logs_store
from collector.validation import UnstorableDocument, log_document_validate

# The error message column is short: the full message stays in the document.
ERROR_MESSAGE_COLUMN_CHARS = 500


@dataclass(frozen=True)
class LogIngestResult:
    # No row id: the table's sequence is shared by every client, so answering it would
    # tell each client how much the others write. The log_id names the log.
    log_id: uuid.UUID
    status: Literal["created", "duplicate"]


@dataclass
class BatchIngestResult:
    created: int = 0
    duplicate: int = 0
    rejected: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


def _document_prepare(*, client: Client, document: Any, received_at: datetime) -> WorkflowLog:
    """An unsaved row from one document: scrubbed, validated and typed.

    Raises DocumentInvalid (with field errors) or ClientMismatch.
    """
    if isinstance(document, UnstorableDocument):
        raise DocumentInvalid(
            "The log document holds text that cannot be stored.", fields=document.fields
        )
    if not isinstance(document, dict):
        raise DocumentInvalid(
            "A log document must be a JSON object.",
            fields={"non_field_errors": ["Expected a JSON object."]},
        )
    try:
        scrubbed = scrub_document(document)
    except DocumentTooDeep:
        raise DocumentInvalid(
            "The document is nested too deeply.",
            fields={"non_field_errors": ["The document is nested too deeply."]},
        ) from None
    try:
        data = log_document_validate(scrubbed)
    except ValidationError as exc:
        raise DocumentInvalid("The log document has invalid fields.", fields=exc.detail) from None

    sent_client = data.get("client_id")
    if sent_client is not None and sent_client != client.slug:
        raise ClientMismatch(
            f"The document's client_id {sent_client!r} does not match the API key's client "
            f"{client.slug!r}."
        )

    log_id = data.get("log_id") or uuid.uuid4()
    timestamp = data.get("timestamp") or received_at
    metrics = data.get("metrics") or {}
    error = data.get("error") or {}
    # The stored document says what the typed columns say (a copy of the top level: the
    # scrubbed document may be the caller's own when there was nothing to scrub).
    scrubbed = dict(scrubbed)
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
    stored = logs_store(client_id=client.pk, logs=[log])
    return LogIngestResult(log_id=log.log_id, status="created" if stored else "duplicate")


def _document_size_check(document: Any) -> None:
    limit = settings.INGEST_MAX_DOCUMENT_BYTES
    size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        raise PayloadTooLarge(
            f"The document is larger than the limit of {limit} bytes.",
            fields={"non_field_errors": [f"The document is {size} bytes; the limit is {limit}."]},
        )


def log_batch_ingest(
    *, client: Client, documents: list[Any], body_bytes: int = 0
) -> BatchIngestResult:
    """Store the valid documents of a batch in one transaction; report the rest by index.

    A client_id mismatch in any document refuses the whole batch (ClientMismatch): it means the
    deployment is misconfigured, and its logs must be kept by the sender, not dropped.
    ``body_bytes`` is the batch's JSON size after decompression, as the parser recorded it
    (``collector.parsers.body_bytes``); only past the one-document limit can a single
    document exceed it, so only then are documents measured one by one.
    """
    received_at = timezone.now()
    result = BatchIngestResult()
    items: list[dict[str, Any]] = [{"index": index} for index in range(len(documents))]
    pending: dict[uuid.UUID, tuple[dict[str, Any], WorkflowLog]] = {}
    measure = body_bytes > settings.INGEST_MAX_DOCUMENT_BYTES

    for item, document in zip(items, documents, strict=True):
        try:
            # A document the parser set aside for its unstorable text is rejected as such.
            if measure and not isinstance(document, UnstorableDocument):
                _document_size_check(document)
            log = _document_prepare(client=client, document=document, received_at=received_at)
        except ClientMismatch:
            raise
        except (DocumentInvalid, PayloadTooLarge) as exc:
            item.update(status="rejected", errors=exc.fields or {"non_field_errors": [exc.message]})
            continue
        if log.log_id in pending:  # the same log twice in one batch
            item.update(status="duplicate", log_id=str(log.log_id))
            continue
        pending[log.log_id] = (item, log)

    stored = logs_store(client_id=client.pk, logs=[log for _, log in pending.values()])
    created = {log.log_id for log in stored}
    for log_id, (item, _log) in pending.items():
        if log_id in created:
            item.update(status="created", log_id=str(log_id))
        else:
            item.update(status="duplicate", log_id=str(log_id))

    for item in items:
        setattr(result, item["status"], getattr(result, item["status"]) + 1)
    result.results = items
    return result
