"""A stored log document shaped for the detail page's sections.

Documents come from many deployments and versions, so every field may be missing or of an
unexpected type: each accessor falls back to "nothing to show" rather than failing.
Only one document is read here (the one on the page); no aggregation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Text longer than this is folded into a <details> element on the page.
LONG_TEXT_CHARS = 280
HASH_PREFIX = "sha256:"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Field:
    name: str
    value: str

    @property
    def is_hash(self) -> bool:
        return self.value.startswith(HASH_PREFIX)

    @property
    def is_long(self) -> bool:
        return len(self.value) > LONG_TEXT_CHARS


@dataclass(frozen=True)
class Iteration:
    number: int
    thought: Field
    action: str
    action_input: str
    observation: Field
    duration_ms: Any


@dataclass(frozen=True)
class Attachment:
    content_type: str
    size_bytes: int | None


@dataclass(frozen=True)
class RetrievalResult:
    kind: str
    reference: str
    title: str
    score: Any
    source: str


@dataclass
class Trace:
    # The ticket's subject as sent: in clear, or a hash (``Field.is_hash``) when the
    # workflow hashed it; None when it sent none.
    subject: Field | None = None
    tags: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    # How many attachments the workflow counted (it may list fewer, or none).
    attachment_count: int | None = None
    ticket: list[Field] = field(default_factory=list)
    planning: list[Field] = field(default_factory=list)
    planning_steps: list[str] = field(default_factory=list)
    iterations: list[Iteration] = field(default_factory=list)
    retrieval: list[RetrievalResult] = field(default_factory=list)
    output: list[Field] = field(default_factory=list)
    other: list[Field] = field(default_factory=list)


KNOWN_SECTIONS = {"ticket", "planning", "react", "retrieval", "output"}
# Ticket keys shown in their own places (the heading, lists) rather than as fields.
TICKET_LISTED = {"subject", "tags", "attachments", "attachment_count"}


def _size(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


def _ticket_lists(trace: Trace, ticket: dict[str, Any]) -> None:
    """The subject, tags and attachments of the ticket, each readable on its own."""
    subject = ticket.get("subject")
    if subject not in (None, ""):
        trace.subject = Field("subject", _text(subject))
    tags = ticket.get("tags")
    if isinstance(tags, list):
        trace.tags = [_text(tag) for tag in tags if tag not in (None, "")]
    elif isinstance(tags, str) and tags.strip():
        trace.tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
    for item in _list(ticket.get("attachments")):
        if isinstance(item, dict):
            trace.attachments.append(
                Attachment(
                    content_type=_text(item.get("content_type")) or "unknown type",
                    size_bytes=_size(item.get("size_bytes")),
                )
            )
    count = ticket.get("attachment_count")
    trace.attachment_count = _size(count)
    if trace.attachment_count is None and trace.attachments:
        trace.attachment_count = len(trace.attachments)


def trace_from_document(document: Any) -> Trace:
    trace_data = _dict(_dict(document).get("trace"))
    trace = Trace()
    ticket = _dict(trace_data.get("ticket"))
    _ticket_lists(trace, ticket)
    trace.ticket = [Field(str(k), _text(v)) for k, v in ticket.items() if k not in TICKET_LISTED]
    planning = _dict(trace_data.get("planning"))
    trace.planning_steps = [_text(step) for step in _list(planning.get("steps"))]
    trace.planning = [Field(str(k), _text(v)) for k, v in planning.items() if k != "steps"]
    for position, item in enumerate(_list(_dict(trace_data.get("react")).get("iterations")), 1):
        step = _dict(item)
        number = step.get("iteration")
        trace.iterations.append(
            Iteration(
                number=number if isinstance(number, int) else position,
                thought=Field("thought", _text(step.get("thought"))),
                action=_text(step.get("action")),
                action_input=_text(step.get("action_input")) if step.get("action_input") else "",
                observation=Field("observation", _text(step.get("observation"))),
                duration_ms=step.get("duration_ms"),
            )
        )
    retrieval = _dict(trace_data.get("retrieval"))
    for kind, key, reference in (
        ("text", "text_results", "doc_id"),
        ("vision", "vision_results", "product_id"),
    ):
        for item in _list(retrieval.get(key)):
            result = _dict(item)
            trace.retrieval.append(
                RetrievalResult(
                    kind=kind,
                    reference=_text(result.get(reference) or result.get("id")),
                    title=_text(result.get("title")),
                    score=result.get("score"),
                    source=_text(result.get("source")),
                )
            )
    trace.output = [Field(str(k), _text(v)) for k, v in _dict(trace_data.get("output")).items()]
    trace.other = [
        Field(str(k), _text(v)) for k, v in trace_data.items() if k not in KNOWN_SECTIONS
    ]
    return trace
