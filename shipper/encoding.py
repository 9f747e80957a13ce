"""A log's wire form: what the worker, the spool and ``python -m shipper send`` send."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._guard import report_internal_error
from .builder import bound_size
from .config import Config
from .schema import sanitize
from .stats import Stats
from .transport import dumps

logger = logging.getLogger("shipper")

# The collector refuses documents over 1 MiB.
MAX_DOC_BYTES = 1024 * 1024


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
        doc = bound_size(doc, config.max_log_bytes)
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
