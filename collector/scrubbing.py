"""Server-side scrubbing: the second line of defence behind the shipper.

Before a document is stored, values under keys that look like secrets become
``"[REDACTED]"`` at any depth, and e-mail addresses and bearer tokens inside any string
are masked. The shipper already hashes PII; this catches what a misconfigured or
hand-written client sends anyway.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"
EMAIL_MASK = "[EMAIL]"

# Nesting deeper than this is refused: no workflow log needs it, and unbounded depth is a
# way to exhaust the stack of every JSON encoder on the way to the database.
MAX_DEPTH = 64

# Words that make a key secret when they stand as a whole word in it ("api_key",
# "X-Auth-Token", "sessionCookie"); "tokens_used" or "author" stay readable.
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "authorization",
        "auth",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "privatekey",
        "sessionid",
        "session",
        "signature",
        "jwt",
        "bearer",
        "dsn",
        "otp",
        "pin",
        "ssn",
    }
)
# Joined forms that split into harmless words ("api" + "key", "access" + "key").
_SECRET_JOINED = ("apikey", "accesskey", "secretkey", "privatekey", "clientsecret", "authtoken")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

# Every repetition in the text patterns is bounded (RFC 5321 lengths for addresses), so a
# scan is linear: with an unbounded local part or label, a long run of address characters
# before an "@" cost quadratic time, and one hostile 1 MiB string held a worker for an hour.
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z])"
)
# Credentials pasted into free text: "Bearer abc" / "Basic abc" headers, our own keys and
# common provider key shapes (sk-..., xoxb-..., ghp_..., AWS access key ids).
_SECRET_IN_TEXT = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Token)\s{1,8}[A-Za-z0-9._~+/=\-]{4,4096}"
    r"|\b(?:flk_[0-9a-f]{12}_[A-Za-z0-9_\-]{8,256}|sk-[A-Za-z0-9_\-]{12,256}"
    r"|xox[abpr]-[A-Za-z0-9\-]{8,256}|gh[pousr]_[A-Za-z0-9]{20,256}|AKIA[0-9A-Z]{16})",
    re.IGNORECASE,
)
# The shortest credential the pattern above can match ("Token abcd").
_SHORTEST_SECRET = 10


def _mask_secret(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return f"{scheme} {REDACTED}" if scheme else REDACTED


class DocumentTooDeep(ValueError):
    """The document nests deeper than MAX_DEPTH."""


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    words = [word.lower() for word in _WORD_SPLIT.split(key) if word]
    if any(word in _SECRET_WORDS for word in words):
        return True
    joined = "".join(words)
    return any(form in joined for form in _SECRET_JOINED)


def scrub_text(text: str) -> str:
    """Mask e-mail addresses, credentials and key-shaped values inside free text."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    if len(text) >= _SHORTEST_SECRET:
        text = _SECRET_IN_TEXT.sub(_mask_secret, text)
    return text


def scrub_document(value: Any, _depth: int = 0) -> Any:
    """A scrubbed copy of a parsed JSON value; raises DocumentTooDeep past MAX_DEPTH."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        if _depth >= MAX_DEPTH:
            raise DocumentTooDeep
        return {
            key: (
                REDACTED
                if is_secret_key(key) and item is not None
                else scrub_document(item, _depth + 1)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        if _depth >= MAX_DEPTH:
            raise DocumentTooDeep
        return [scrub_document(item, _depth + 1) for item in value]
    return value
