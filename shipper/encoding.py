"""A log's wire form, in one place: the size bound, the JSON the collector can store, and
the ``Item`` that the worker, the spool and ``python -m shipper send`` deliver.

The builder bounds a log's size as it builds it (``bound_size``); ``encode`` serialises it
once on the worker thread, sanitising only what ``ship_log_async`` was given that is not
JSON-safe, and trimming only what is still over ``max_log_bytes``; ``encode_all`` is the one
place that counts a log that cannot be encoded at all as rejected.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._guard import report_internal_error
from .config import Config
from .privacy import Sanitizer, sanitize, unique_key
from .stats import Stats

logger = logging.getLogger("shipper")

# The collector refuses documents over 1 MiB.
MAX_DOC_BYTES = 1024 * 1024
# Trace-shrinking steps tried in order when a log is over its size bound:
# (longest string kept, most list items kept).
_SHRINK_STEPS = ((1000, 50), (300, 20), (80, 5))


@dataclass(frozen=True)
class Item:
    """One serialised log, ready to send."""

    body: bytes
    log_id: str


def encode(doc: Any, config: Config) -> Item | None:
    """Serialise a log for the wire; ``None`` if it cannot be sent at all (too big, not a
    mapping). Gives a log without ``log_id`` one, so every resend carries the same id."""
    if isinstance(doc, Item):
        return doc
    if not isinstance(doc, Mapping):
        return None
    doc = dict(doc)
    if not doc.get("log_id"):
        doc["log_id"] = str(uuid.uuid4())
    if not doc.get("client_id") and config.client_id:
        doc["client_id"] = config.client_id
    try:
        body = dumps(doc)
    except (TypeError, ValueError):
        # Not JSON-safe (a datetime, NaN, an object): make it so, with the usual scrubbing.
        doc = sanitize(doc)
        if not isinstance(doc, dict):
            return None
        body = dumps(doc)
    if len(body) > config.max_log_bytes and isinstance(doc.get("trace"), dict):
        doc = bound_size(doc, config.max_log_bytes, size=len(body))
        body = dumps(doc)
    if len(body) > MAX_DOC_BYTES:
        return None
    return Item(body, str(doc["log_id"]))


def encode_all(docs: Iterable[Any], config: Config, stats: Stats) -> list[Item]:
    """The wire form of each of ``docs``. One that cannot be sent at all (not a mapping,
    over 1 MiB even trimmed, or a bug of ours) is counted as rejected, and skipped."""
    items: list[Item] = []
    failed = 0
    for doc in docs:
        try:
            item = encode(doc, config)
        except Exception as exc:
            report_internal_error("encode", exc)
            item = None
        if item is None:
            failed += 1
        else:
            items.append(item)
    if failed:
        stats.add(rejected=failed)
        logger.warning(
            "shipper: %d log(s) could not be serialised or are over 1 MiB; skipped", failed
        )
    return items


def bound_size(doc: dict[str, Any], max_bytes: int, *, size: int | None = None) -> dict[str, Any]:
    """Shrink ``doc['trace']`` until the document fits in ``max_bytes``; flag what was done.
    ``size`` is the document's size when the caller has just serialised it."""
    size = _size(doc) if size is None else size
    if size <= max_bytes:
        return doc
    original = doc["trace"]
    meta = dict(original.get("_shipper") or {}) if isinstance(original, dict) else {}
    meta.update({"truncated": True, "original_bytes": size})
    for max_string, max_items in _SHRINK_STEPS:
        shrink = Sanitizer(max_string=max_string, max_items=max_items, max_depth=12)
        trace = {k: shrink(v) for k, v in original.items() if k != "_shipper"}
        trace["_shipper"] = meta
        doc["trace"] = trace
        if _size(doc) <= max_bytes:
            return doc
    # Still too big: only the outline of the trace survives.
    doc["trace"] = {"_shipper": meta}
    if _size(doc) > max_bytes:
        doc["error"] = None if doc.get("error") is None else {"type": "Truncated", "message": ""}
    return doc


def _size(doc: Any) -> int:
    return len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


# Text the collector refuses because PostgreSQL cannot store it: NUL, and a UTF-16
# surrogate half that is not part of a pair (Python strings can hold one; UTF-8 cannot).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """``value`` with every NUL and lone surrogate, in keys and values, replaced by U+FFFD,
    so a workflow's odd text costs one character, never the whole log.

    Keys that become alike (``"a\x00"`` and ``"a\ud800"``, or either and ``"a\ufffd"``) all
    stay, numbered ``"a\ufffd (2)"`` as the collector's scrubber numbers keys it masks alike; a
    key that needed no change keeps its name."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        # Keys are str once serialisable (json turns the others into text); only text ones
        # can change here.
        taken = {key for key in value if not (isinstance(key, str) and _UNSTORABLE.search(key))}
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if key not in taken:
                key = unique_key(taken, storable(key))
                taken.add(key)
            out[key] = storable(item)
        return out
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def _json(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def envelope(bodies: list[bytes]) -> bytes:
    """Serialised logs as one batch, ``{"logs": [...]}``: a request body and a spool file."""
    return b'{"logs":[' + b",".join(bodies) + b"]}"


def dumps(doc: Any) -> bytes:
    """The wire form of a log: compact UTF-8 JSON the collector can store."""
    text = _json(doc)
    # A NUL is written as the escape \u0000 (a false alarm on a literal backslash before
    # "u0000" only costs the slow path); a lone surrogate cannot be encoded as UTF-8.
    if "\\u0000" not in text:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass
    return _json(storable(doc)).encode("utf-8")
