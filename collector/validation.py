"""Validating a log document: msgspec for the well-formed ones, the DRF serializer for the rest.

``LogDocumentSerializer`` (collector/serializers.py) is the schema: it is what the OpenAPI
document describes and what answers every error. For a document already in its canonical
shape (strings without surrounding whitespace, numbers as JSON numbers, an ISO timestamp)
the msgspec types below reach the same validated data about twenty times faster; anything
they do not take as canonical (a string to trim, a number sent as a string, a missing
field, any error) goes to the serializer, which decides. A property test holds the two to
the same answers (collector/tests/test_validation.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError

from collector.serializers import MAX_COUNT, MAX_EXECUTION_SECONDS, LogDocumentSerializer

# Non-empty with no whitespace at either end (DRF trims it), no line break, and no NUL or
# lone surrogate (DRF refuses them); or empty. \Z, not $: $ also matches before a final
# line break, which DRF would trim.
_EDGE = "[^\\s\\x00\\ud800-\\udfff]"
_INNER = "[^\\n\\x00\\ud800-\\udfff]"
_TRIMMED = rf"\A{_EDGE}(?:{_INNER}*{_EDGE})?\Z"
_TRIMMED_OR_EMPTY = rf"\A(?:{_EDGE}(?:{_INNER}*{_EDGE})?)?\Z"
_STORABLE = "\\A[^\\x00\\ud800-\\udfff]*\\Z"


def _text(max_length: int) -> Any:
    return Annotated[str, msgspec.Meta(max_length=max_length, pattern=_TRIMMED)]


def _text_or_empty(max_length: int) -> Any:
    return Annotated[str, msgspec.Meta(max_length=max_length, pattern=_TRIMMED_OR_EMPTY)]


Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
Unit = Annotated[float, msgspec.Meta(ge=0, le=1)]


class _Metrics(msgspec.Struct):
    react_iterations: Count | None = None
    overall_confidence: Unit | None = None
    hallucination_risk: Unit | None = None
    product_confidence: Unit | None = None
    vision_matches: Count | None = None
    text_matches: Count | None = None


class _Error(msgspec.Struct):
    type: _text_or_empty(128) = ""  # type: ignore[valid-type]
    message: Annotated[str, msgspec.Meta(pattern=_STORABLE)] = ""
    node: _text_or_empty(128) = ""  # type: ignore[valid-type]


class _Document(msgspec.Struct):
    ticket_id: _text(128)  # type: ignore[valid-type]
    status: Literal["SUCCESS", "FAILED", "ERROR", "ESCALATED"]
    log_id: uuid.UUID | None = None
    schema_version: _text_or_empty(16) = ""  # type: ignore[valid-type]
    client_id: _text(63) | None = None  # type: ignore[valid-type]
    environment: _text(64) = "production"  # type: ignore[valid-type]
    workflow_version: _text_or_empty(64) = ""  # type: ignore[valid-type]
    timestamp: str | None = None
    execution_time_seconds: (
        Annotated[float, msgspec.Meta(ge=0, le=MAX_EXECUTION_SECONDS)] | None
    ) = None
    metrics: _Metrics | None = None
    error: _Error | None = None
    trace: dict[str, Any] | None = None


_METRICS = tuple(_Metrics.__struct_fields__)
_serializer = LogDocumentSerializer()


def _fast(document: dict[str, Any]) -> dict[str, Any] | None:
    """The validated data of a canonical document, or None to ask the serializer."""
    try:
        parsed = msgspec.convert(document, _Document, strict=True)
    except msgspec.ValidationError:
        return None
    data: dict[str, Any] = {
        "ticket_id": parsed.ticket_id,
        "status": parsed.status,
        "environment": parsed.environment,
        "workflow_version": parsed.workflow_version,
        "log_id": parsed.log_id,
        "client_id": parsed.client_id,
        "execution_time_seconds": parsed.execution_time_seconds,
        "timestamp": None,
        "metrics": None,
        "error": None,
    }
    if parsed.timestamp is not None:
        try:
            moment = parse_datetime(parsed.timestamp)
        except ValueError:
            return None
        if moment is None or moment.tzinfo is None:
            return None
        try:
            # As DRF's DateTimeField hands it over: in the current time zone.
            data["timestamp"] = moment.astimezone(timezone.get_current_timezone())
        except OverflowError:  # off the calendar once converted: the serializer says so
            return None
    if parsed.metrics is not None:
        sent = document["metrics"]
        data["metrics"] = {name: getattr(parsed.metrics, name) for name in _METRICS if name in sent}
    if parsed.error is not None:
        data["error"] = {
            "type": parsed.error.type,
            "message": parsed.error.message,
            "node": parsed.error.node,
        }
    return data


@dataclass(frozen=True)
class UnstorableDocument:
    """Stands for a batch's document that held text the database cannot store (a NUL, a
    lone surrogate), found while parsing the body; ingestion rejects it by index with
    ``fields`` naming where (collector/parsers.py)."""

    fields: dict[str, list[str]]


def log_document_validate(document: dict[str, Any]) -> dict[str, Any]:
    """The document's validated fields (as ``LogDocumentSerializer`` gives them).

    Raises rest_framework's ValidationError with the serializer's field errors.
    """
    data = _fast(document)
    if data is not None:
        return data
    validated: dict[str, Any] = _serializer.run_validation(document)
    return validated


__all__ = ["UnstorableDocument", "ValidationError", "log_document_validate"]
