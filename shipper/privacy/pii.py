"""Personal data: its keyed hash, and the known values to mask wherever they appear."""

from __future__ import annotations

import collections
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..config import pii_salt
from .keys import NAME_KEYS, PII_KEYS
from .tokens import HASH_PREFIX, MAX_DEPTH, MAX_ITEMS


def hash_pii(value: Any, salt: str | bytes | None = None) -> str | None:
    """Keyed, irreversible hash of one PII value: ``sha256:<64 hex>`` (HMAC-SHA256).

    The key is ``LOG_PII_SALT``, so the same requester hashes the same way in every log of a
    deployment. E-mail addresses are case-folded first. ``None`` and ``""`` stay as they are.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.startswith(HASH_PREFIX):
        return value  # already hashed: hashing twice would break correlation
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # an object that cannot be printed cannot be hashed either
        return None
    text = text.strip()
    if not text:
        return ""
    if "@" in text:
        text = text.casefold()
    key = pii_salt() if salt is None else salt.encode("utf-8") if isinstance(salt, str) else salt
    digest = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest


def collect_known_pii(obj: Any, limit: int = 10_000) -> set[str]:
    """The values found under PII keys anywhere in ``obj`` (and the words of names)."""
    found: set[str] = set()
    # Breadth first: a ticket near the top is read before the bulk of a big state uses up
    # the node budget (depth first, it could be the part never reached).
    stack: collections.deque[tuple[Any, int]] = collections.deque([(obj, 0)])
    seen: set[int] = set()
    visited = 0
    while stack and visited < limit:
        node, depth = stack.popleft()
        visited += 1
        if depth > MAX_DEPTH or id(node) in seen:
            continue
        if isinstance(node, Mapping):
            seen.add(id(node))
            try:
                items = list(node.items())
            except Exception:  # noqa: S112 - a mapping that cannot be read holds nothing for us
                continue
            for key, value in items:
                if isinstance(key, str) and key.lower() in PII_KEYS:
                    for text in _strings(value):
                        _add_known(found, text, name=key.lower() in NAME_KEYS)
                    if isinstance(value, Mapping):
                        # {"requester": {"name": ..., "email": ...}}: every leaf is PII.
                        for text in _strings(list(value.values())):
                            _add_known(found, text, name=True)
                if isinstance(value, (Mapping, list, tuple)):
                    stack.append((value, depth + 1))
        elif isinstance(node, (list, tuple)):
            seen.add(id(node))
            stack.extend((v, depth + 1) for v in node[:MAX_ITEMS])
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value[:MAX_ITEMS] if isinstance(v, str)]
    return []


def _add_known(found: set[str], text: str, *, name: bool) -> None:
    text = text.strip()
    if len(text) < 3 or text.startswith(HASH_PREFIX):
        return
    if "@" in text or re.fullmatch(r"[\d\s().+-]{6,}", text) or name:
        found.add(text)
    local = text.partition("@")[0] if "@" in text else ""
    if len(local) >= 5 and re.search(r"[._\-+\d]", local):
        # "m.rossi81" is the requester as a user name too; "legal" or "info" is just a word.
        found.add(local)
    if name and "@" not in text:
        # "Hi Jane," must go too when the requester is "Jane Doe"; and the handle "JaneDoe".
        words = re.findall(r"[^\W\d_]{3,}", text)
        found.update(words)
        if len(words) > 1:
            found.add("".join(words))


def known_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any of the known PII values, case-insensitively, on word edges
    (letter edges for names)."""
    parts = []
    for value in sorted(set(values), key=len, reverse=True):
        if not value:
            continue
        if any(c.isdigit() for c in value) and "@" not in value:
            # A phone number written with other separators: match on the digits.
            digits = re.sub(r"\D", "", value)
            phone = []
            if len(digits) >= 6:
                phone.append(r"\+?" + r"[\s().-]{0,3}".join(digits))
            if len(digits) >= 9:
                # The same number without its country code or with a trunk prefix
                # ("4155550142", "0415 555 0142" for "+1 415 555 0142"): match on the last
                # nine digits, whatever comes before them.
                phone.append(r"\+?(?:\d[\s().-]{0,3}){0,6}" + r"[\s().-]{0,3}".join(digits[-9:]))
            parts.extend(r"(?<!\w)" + p + r"(?!\w)" for p in phone)
        if re.fullmatch(r"[^\W\d_]+(?:[\s'.-]+[^\W\d_]+)*", value):
            # A name: its edges are letters, so "jane_doe42" and "@janedoe" are hits.
            parts.append(r"(?<![^\W\d_])" + re.escape(value) + r"(?![^\W\d_])")
        else:
            parts.append(r"(?<!\w)" + re.escape(value) + r"(?!\w)")
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)
