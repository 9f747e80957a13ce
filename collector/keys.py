"""The API key format: ``flk_<prefix>_<secret>``.

The ``flk_`` marker makes leaked keys recognisable to secret scanners; the prefix is public
and finds the key's row with one indexed lookup; the secret is 32 random bytes, so a fast
hash (SHA-256) is enough: there is nothing to brute-force, and the check runs per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_MARKER = "flk"
# 6 random bytes: collisions are checked on creation, and the prefix is not a secret.
PREFIX_BYTES = 6
# 32 random bytes (256 bits), as the issue asks.
SECRET_BYTES = 32


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    secret: str


def key_generate() -> tuple[str, str, str]:
    """A new key as (full key, prefix, hash of the secret)."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"{KEY_MARKER}_{prefix}_{secret}", prefix, secret_hash(secret)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_parse(raw: str) -> ParsedKey | None:
    """The key's parts, or None when it is not of our format."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_MARKER:
        return None
    _, prefix, secret = parts
    if len(prefix) != PREFIX_BYTES * 2 or not secret or len(secret) > 256:
        return None
    try:
        int(prefix, 16)
    except ValueError:
        return None
    return ParsedKey(prefix=prefix, secret=secret)


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)
