"""Builder: a workflow state in, one privacy-safe log document in the collector's schema out.

Pure (no I/O) and total: whatever the state holds, a log comes out, and the log says what
could not be read.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from typing import Any

from .config import Config, get_config
from .encoding import bound_size
from .privacy import (
    Sanitizer,
    collect_known_pii,
    hash_pii,
    is_object,
    object_fields,
    scrub_text,
)

_UTC = dt.timezone.utc
# The version of the log document's schema, and the statuses it allows (the collector's
# serializers define both).
SCHEMA_VERSION = "1.0"
STATUSES = ("SUCCESS", "FAILED", "ERROR", "ESCALATED")
# The six metrics the collector types and dashboards aggregate.
METRIC_NAMES = (
    "react_iterations",
    "overall_confidence",
    "hallucination_risk",
    "product_confidence",
    "vision_matches",
    "text_matches",
)
_MAX_ERROR_MESSAGE = 2000


def build_workflow_log(
    state: Any,
    start_time: Any,
    end_time: Any,
    workflow_version: str = "v1.0",
) -> dict[str, Any]:
    """Turn a workflow ``state`` into one log document. Pure, never raises.

    ``start_time`` and ``end_time`` may be aware datetimes, epoch seconds or ISO 8601 strings
    (naive datetimes are taken as UTC). The trace is trimmed to keep the document under
    ``max_log_bytes`` (256 KiB by default); a trimmed log says so in ``trace._shipper``.
    """
    cfg = get_config()
    try:
        return _build(state, start_time, end_time, workflow_version, cfg)
    except Exception as exc:
        try:
            return _fallback(state, end_time, workflow_version, cfg, exc)
        except Exception:  # the state or the arguments break even the fallback
            return _fallback(None, None, None, cfg, exc)


def _version(value: Any) -> str:
    """``workflow_version`` as the collector takes it: a short string, "v1.0" by default."""
    if not value:
        return "v1.0"
    try:
        text = scrub_text(str(value))[:64]
    except Exception:
        return "v1.0"
    return text or "v1.0"


def _build(
    state: Any, start_time: Any, end_time: Any, workflow_version: str, cfg: Config
) -> dict[str, Any]:
    warnings: list[str] = []
    if not isinstance(state, Mapping) and is_object(state):
        state = object_fields(state)  # a dataclass or pydantic state
    if not isinstance(state, Mapping):
        warnings.append(f"state is a {type(state).__name__}, not a mapping")
        state = {}
    else:
        state = _with_aliases(state)
    ticket = _mapping(state.get("ticket"), "ticket", warnings)
    # The ticket's own PII first and whole: it is what must be masked everywhere else.
    clean = Sanitizer(collect_known_pii(ticket) | collect_known_pii(state), salt=cfg.pii_salt)

    start = _to_datetime(start_time)
    if start is None:
        start = _to_datetime(state.get("workflow_start_time"))
        if start_time is not None or start is None:
            warnings.append("start_time unreadable")
    end = _to_datetime(end_time)
    if end is None:
        warnings.append("end_time unreadable; using the build time")
        end = dt.datetime.now(_UTC)
    if start is None:
        elapsed = 0.0
    else:
        elapsed = (end - start).total_seconds()
        if elapsed < 0:
            warnings.append("end_time is before start_time")
            elapsed = 0.0

    error = _error(state.get("error"), clean)
    status = _status(state, error, warnings)
    ticket_id = _ticket_id(state, ticket, warnings, clean)

    react = state.get("react_iterations")
    if react is None:
        react = []
    elif not isinstance(react, (list, tuple)):
        warnings.append("react_iterations is not a list")
        react = []
    retrieval = _mapping(state.get("retrieval"), "retrieval", warnings)
    confidence = _mapping(state.get("confidence"), "confidence", warnings)
    product = _mapping(state.get("product_identification"), "product_identification", warnings)

    metrics = {
        "react_iterations": len(react),
        "overall_confidence": _unit(confidence.get("overall"), "overall_confidence", warnings),
        "hallucination_risk": _unit(
            confidence.get("hallucination_risk"), "hallucination_risk", warnings
        ),
        "product_confidence": _unit(
            confidence.get("product", product.get("confidence")), "product_confidence", warnings
        ),
        "vision_matches": _count(retrieval.get("vision_results")),
        "text_matches": _count(retrieval.get("text_results")),
    }

    trace: dict[str, Any] = {
        "ticket": _ticket_trace(ticket, ticket_id, clean),
        "planning": clean(state.get("plan") if state.get("plan") is not None else {}),
        "react": {"iterations": [clean(it) for it in react]},
        "retrieval": clean(retrieval),
        "output": _output(state.get("final_response"), clean),
    }
    doc: dict[str, Any] = {
        **_envelope(cfg, workflow_version, ticket_id, status, end, round(elapsed, 3)),
        "metrics": metrics,
        "error": error,
        "trace": trace,
    }
    if warnings:
        trace["_shipper"] = {"warnings": warnings}
    return bound_size(doc, cfg.max_log_bytes)


def _envelope(
    cfg: Config,
    workflow_version: Any,
    ticket_id: str,
    status: str,
    end: dt.datetime,
    execution_time_seconds: float,
) -> dict[str, Any]:
    """The fields every log starts with, built or fallback."""
    return {
        "log_id": str(uuid.uuid4()),
        "schema_version": SCHEMA_VERSION,
        # Without CLIENT_ID the client_id is null: the collector then files the log under
        # the API key's client, where any made-up value would be refused (403) forever.
        "client_id": cfg.client_id or None,
        "environment": cfg.environment or "production",
        "workflow_version": _version(workflow_version),
        "ticket_id": ticket_id,
        "status": status,
        "timestamp": end.astimezone(_UTC).isoformat(),
        "execution_time_seconds": execution_time_seconds,
    }


def _fallback(
    state: Any, end_time: Any, workflow_version: Any, cfg: Config, exc: Exception
) -> dict[str, Any]:
    """The log of a state the builder could not read: it says so, and carries nothing else."""
    ticket_id = "unknown"
    try:
        if isinstance(state, Mapping) and state.get("ticket_id") is not None:
            ticket_id = scrub_text(str(state["ticket_id"]))[:128]
    except Exception:  # a state that breaks even this keeps "unknown"
        ticket_id = "unknown"
    end = _to_datetime(end_time) or dt.datetime.now(_UTC)
    return {
        **_envelope(cfg, workflow_version, ticket_id, "ERROR", end, 0.0),
        "metrics": dict.fromkeys(METRIC_NAMES),
        "error": {
            "type": "ShipperBuildError",
            "message": f"the workflow state could not be read ({type(exc).__name__})",
            "node": "shipper",
        },
        "trace": {"_shipper": {"warnings": ["state unreadable"]}},
    }


# Other names the same parts of a state go by in workflow variants: read as the usual ones.
_ALIASES = {
    "plan": ("planning", "execution_plan"),
    "react_iterations": ("react", "iterations", "react_steps"),
    "final_response": ("output", "response", "final_answer"),
    "workflow_start_time": ("start_time", "started_at"),
}


def _with_aliases(state: Mapping[str, Any]) -> Mapping[str, Any]:
    missing = {
        name: alias
        for name, aliases in _ALIASES.items()
        if state.get(name) is None
        for alias in aliases
        if state.get(alias) is not None
    }
    if not missing:
        return state
    merged = dict(state)
    for name, alias in missing.items():
        merged[name] = state[alias]
    return merged


def _mapping(value: Any, name: str, warnings: list[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if is_object(value):
        value = object_fields(value)
    if isinstance(value, Mapping):
        return value
    warnings.append(f"{name} is not a mapping")
    return {}


def _to_datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_UTC)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        try:
            return dt.datetime.fromtimestamp(value, _UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)
    return None


def _unit(value: Any, name: str, warnings: list[str]) -> float | None:
    """A confidence or risk: a number in [0, 1], else null (with a warning)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            warnings.append(f"{name} is not a number")
            return None
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        warnings.append(f"{name} is outside [0, 1]")
        return None
    return number


def _count(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


def _status(state: Mapping[str, Any], error: Any, warnings: list[str]) -> str:
    raw = state.get("status")
    if isinstance(raw, str) and raw.strip().upper() in STATUSES:
        return raw.strip().upper()
    if raw is not None:
        warnings.append("status is not one of " + ", ".join(STATUSES))
        return "ERROR"
    if error is not None:
        return "ERROR"
    final = state.get("final_response")
    if isinstance(final, Mapping):
        if str(final.get("action", "")).lower().startswith("escalat"):
            return "ESCALATED"
        return "SUCCESS"
    warnings.append("status missing")
    return "ERROR"


def _ticket_id(
    state: Mapping[str, Any], ticket: Mapping[str, Any], warnings: list[str], clean: Sanitizer
) -> str:
    for value in (state.get("ticket_id"), ticket.get("id")):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            # Some helpdesks key tickets by the sender's address: scrub it like any text.
            return clean.text(str(value).strip())[:128]
    warnings.append("ticket_id missing")
    return "unknown"


def _error(value: Any, clean: Sanitizer) -> dict[str, Any] | None:
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, BaseException):
        etype, message, node = type(value).__name__, str(value), None
    elif isinstance(value, Mapping):
        etype = value.get("type") or "Error"
        message = value.get("message") or ""
        node = value.get("node")
    else:
        etype, message, node = "Error", value, None
    message = clean.text(str(message))[:_MAX_ERROR_MESSAGE]
    # The collector takes type and node up to 128 characters, and node as a string ("" when
    # unknown), never null.
    return {
        "type": clean.text(str(etype))[:128],
        "message": message,
        "node": "" if node is None else clean.text(str(node))[:128],
    }


def _ticket_trace(ticket: Mapping[str, Any], ticket_id: str, clean: Sanitizer) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ticket_id}
    for key in ("subject", "requester_email", "requester_name", "requester_phone"):
        if ticket.get(key) is not None:
            out[key] = hash_pii(ticket[key], clean.salt)
    for key in ("priority", "channel", "status", "source", "type", "language", "created_at"):
        if ticket.get(key) is not None:
            out[key] = clean(ticket[key])
    tags = ticket.get("tags")
    if isinstance(tags, (list, tuple)):
        out["tags"] = clean(list(tags))
    description = ticket.get("description")
    if isinstance(description, str):
        out["description"] = clean.text(description)
    attachments = ticket.get("attachments")
    if isinstance(attachments, (list, tuple)):
        out["attachment_count"] = len(attachments)
        out["attachments"] = [
            {k: clean(a.get(k)) for k in ("content_type", "size_bytes") if k in a}
            for a in attachments
            if isinstance(a, Mapping)
        ]
    return out


def _output(final: Any, clean: Sanitizer) -> dict[str, Any]:
    if final is None:
        return {}
    if not isinstance(final, Mapping):
        final = {"text": final}
    cleaned = clean(final)
    out: dict[str, Any] = cleaned if isinstance(cleaned, dict) else {}
    text = final.get("text")
    if isinstance(text, str):
        out["length_chars"] = len(text)
    return out
