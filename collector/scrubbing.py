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
# Every match of _SECRET_IN_TEXT starts with one of these, case-insensitively: a text
# holding none of them (after the folding below) needs no regex pass. Keep in step with
# the pattern; a property test checks that no match gets past this filter.
_SECRET_PREFIXES = ("bearer", "basic", "token", "flk_", "sk-", "xox", "akia")
# "gh" alone is in every other English word; GitHub tokens are gh[pousr]_.
_GITHUB_PREFIX = re.compile(r"gh[pousr]_")
# IGNORECASE also matches these four letters to ASCII ones (Python's re documentation).
_FOLD_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _may_hold_secret(text: str) -> bool:
    folded = text.translate(_FOLD_TO_ASCII).lower()
    return any(prefix in folded for prefix in _SECRET_PREFIXES) or bool(
        _GITHUB_PREFIX.search(folded)
    )


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
    if len(text) >= _SHORTEST_SECRET and _may_hold_secret(text):
        text = _SECRET_IN_TEXT.sub(_mask_secret, text)
    return text


def _scan(value: Any, strings: list[str], depth: int) -> bool:
    """Collect every string of the value; True when a key asks for redaction.

    Raises DocumentTooDeep past MAX_DEPTH, as the copy below does.
    """
    if isinstance(value, str):
        strings.append(value)
        return False
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise DocumentTooDeep
        found = False
        for key, item in value.items():
            strings.append(key)
            if (item is not None and is_secret_key(key)) or _scan(item, strings, depth + 1):
                found = True
        return found
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise DocumentTooDeep
        found = False
        for item in value:
            if _scan(item, strings, depth + 1):
                found = True
        return found
    return False


# Joins the strings of a document for one search. No pattern matches a NUL, and no stored
# string holds one (the parser replaces them), so no match can span two strings.
_JOIN = "\x00"


def _needs_scrubbing(value: Any) -> bool:
    strings: list[str] = []
    if _scan(value, strings, 0):
        return True
    text = _JOIN.join(strings)
    if "@" in text and _EMAIL.search(text):
        return True
    return _may_hold_secret(text) and _SECRET_IN_TEXT.search(text) is not None


def _scrub(value: Any, _depth: int = 0) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        if _depth >= MAX_DEPTH:
            raise DocumentTooDeep
        return {
            key: (REDACTED if is_secret_key(key) and item is not None else _scrub(item, _depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, list):
        if _depth >= MAX_DEPTH:
            raise DocumentTooDeep
        return [_scrub(item, _depth + 1) for item in value]
    return value


def scrub_document(value: Any) -> Any:
    """A scrubbed copy of a parsed JSON value; raises DocumentTooDeep past MAX_DEPTH.

    Most documents (the shipper hashes and masks before sending) hold nothing to scrub:
    one walk collecting their strings and one search over them finds that out, and the
    value comes back as it is. Only a document with something to mask is copied string
    by string.
    """
    if not _needs_scrubbing(value):
        return value
    return _scrub(value)
