"""The sanitizer: any value in, JSON-safe data out, with PII hashed or masked and secrets
redacted."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math
import uuid
from collections.abc import Container, Iterable, Mapping
from typing import Any

from .keys import PII_KEYS, is_secret_key, says_nothing
from .numbers import is_card_number
from .patterns import scrub_text
from .pii import collect_known_pii, hash_pii, known_pattern
from .tokens import CARD_MASK, MAX_DEPTH, MAX_ITEMS, MAX_STRING, REDACTED


class Sanitizer:
    """Turns any value into JSON-safe data with PII hashed or masked and secrets redacted."""

    def __init__(
        self,
        known_pii: Iterable[str] = (),
        *,
        salt: str | bytes | None = None,
        max_string: int = MAX_STRING,
        max_items: int = MAX_ITEMS,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self.known = known_pattern(known_pii)
        self.salt = salt
        self.max_string = max_string
        self.max_items = max_items
        self.max_depth = max_depth

    def __call__(self, obj: Any) -> Any:
        return self._clean(obj, 0, set())

    def text(self, value: str) -> str:
        value = scrub_text(value, self.known)
        if len(value) > self.max_string:
            cut = len(value) - self.max_string
            value = f"{value[: self.max_string]}…[truncated {cut} chars]"
        return value

    def _hash(self, value: Any) -> Any:
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._hash(v) for v in list(value)[: self.max_items]]
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, Mapping):
            return {
                self.text(str(k)): self._hash(v) for k, v in list(value.items())[: self.max_items]
            }
        return hash_pii(value, self.salt)

    def _clean(self, obj: Any, depth: int, path: set[int]) -> Any:
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, int):
            return _scrub_number(int(obj))  # int subclasses (IntEnum) become plain ints
        if isinstance(obj, float):
            return _scrub_number(float(obj)) if math.isfinite(obj) else None
        if depth >= self.max_depth:
            return "[max depth]"
        if isinstance(obj, (Mapping, list, tuple, set, frozenset)) or is_object(obj):
            if id(obj) in path:
                return "[cycle]"
            path.add(id(obj))
            try:
                return self._container(obj, depth, path)
            finally:
                path.discard(id(obj))
        return self._scalar(obj)

    def _container(self, obj: Any, depth: int, path: set[int]) -> Any:
        if isinstance(obj, Mapping):
            out: dict[str, Any] = {}
            items = list(obj.items())
            for n, (key, value) in enumerate(items):
                if n >= self.max_items:
                    out["[truncated]"] = f"{len(items) - n} more keys"
                    break
                skey = self.text(key if isinstance(key, str) else str(self._scalar(key)))
                lkey = skey.lower()
                if lkey in PII_KEYS:
                    clean = self._hash(value)
                elif is_secret_key(skey) and not says_nothing(value):
                    clean = REDACTED
                else:
                    clean = self._clean(value, depth + 1, path)
                out[unique_key(out, skey)] = clean
            return out
        if isinstance(obj, (set, frozenset)):
            seq: list[Any] = sorted(obj, key=repr)
        elif isinstance(obj, (list, tuple)):
            seq = list(obj)
        else:
            return self._clean(object_fields(obj), depth, path)
        cleaned = [self._clean(v, depth + 1, path) for v in seq[: self.max_items]]
        if len(seq) > self.max_items:
            cleaned.append(f"[truncated {len(seq) - self.max_items} items]")
        return cleaned

    def _scalar(self, obj: Any) -> Any:
        if isinstance(obj, dt.datetime):
            return obj.isoformat()
        if isinstance(obj, (dt.date, dt.time)):
            return obj.isoformat()
        if isinstance(obj, dt.timedelta):
            return obj.total_seconds()
        if isinstance(obj, decimal.Decimal):
            return float(obj) if obj.is_finite() else None
        if isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, enum.Enum):
            return self._clean(obj.value, self.max_depth - 1, set())
        if isinstance(obj, (bytes, bytearray, memoryview)):
            # Content could be anything (a key, an attachment): keep the size only.
            return f"<{len(bytes(obj))} bytes>"
        try:
            text = str(obj)
        except Exception:
            return f"<unprintable {type(obj).__name__}>"
        return self.text(text)


def _scrub_number(value: int | float) -> Any:
    """A JSON number that is a card number becomes ``[card]`` (as in the collector)."""
    if isinstance(value, float):
        if not (1e12 <= abs(value) < 1e19 and value.is_integer()):
            return value
        digits = str(int(abs(value)))
    else:
        if not 10**12 <= abs(value) < 10**19:
            return value
        digits = str(abs(value))
    return CARD_MASK if is_card_number(digits) else value


def unique_key(taken: Container[Any], key: str) -> str:
    """``key``, or ``key (2)``, ``(3)``... if it is taken: two keys masked alike
    ("a@x.example" and "b@y.example" both "[email]") both stay."""
    if key not in taken:
        return key
    number = 2
    while f"{key} ({number})" in taken:
        number += 1
    return f"{key} ({number})"


def is_object(obj: Any) -> bool:
    """Objects we look inside: dataclasses and models with ``model_dump`` / ``dict``."""
    if isinstance(obj, type):
        return False
    if dataclasses.is_dataclass(obj):
        return True
    return callable(getattr(obj, "model_dump", None))


def object_fields(obj: Any) -> Any:
    try:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
        return obj.model_dump()
    except Exception:
        return f"<unreadable {type(obj).__name__}>"


def sanitize(obj: Any, known_pii: Iterable[str] | None = None) -> Any:
    """Return a JSON-serialisable, privacy-safe copy of ``obj``.

    PII fields (requester e-mail, name, phone, subject, ...) are replaced by their
    ``hash_pii``; the values found there are masked wherever else they appear, in free text
    too; other e-mail addresses and phone numbers in text are masked; values under
    secret-looking keys and bearer tokens / provider keys inside text are redacted; long
    strings and lists are truncated with a marker; cycles become ``"[cycle]"``. Never raises.
    """
    try:
        known = collect_known_pii(obj) if known_pii is None else set(known_pii)
        return Sanitizer(known)(obj)
    except Exception:
        return "[unsanitizable]"
