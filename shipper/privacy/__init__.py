"""Privacy: what leaves the workflow is hashed, masked or redacted, and JSON-safe.

- ``tokens``: the masks written in place of what is hidden, and the size limits;
- ``keys``: which keys hold personal data (hashed) and which hold secrets (redacted);
- ``numbers``, ``pairs``, ``patterns``: masking free text, by the rules and in the order
  of the collector's scrubber (collector/scrubbing.py; the shared corpus holds both to it);
- ``pii``: the keyed hash of personal data and the known values to mask everywhere;
- ``sanitizer``: any value in, JSON-safe and privacy-safe data out.
"""

from .keys import PII_KEYS, is_secret_key
from .patterns import scrub_text
from .pii import collect_known_pii, hash_pii, known_pattern
from .sanitizer import Sanitizer, is_object, object_fields, sanitize, unique_key
from .tokens import (
    CARD_MASK,
    EMAIL_MASK,
    HASH_PREFIX,
    IBAN_MASK,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_STRING,
    NAME_MASK,
    PHONE_MASK,
    REDACTED,
)

__all__ = [
    "CARD_MASK",
    "EMAIL_MASK",
    "HASH_PREFIX",
    "IBAN_MASK",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_STRING",
    "NAME_MASK",
    "PHONE_MASK",
    "PII_KEYS",
    "REDACTED",
    "Sanitizer",
    "collect_known_pii",
    "hash_pii",
    "is_object",
    "is_secret_key",
    "known_pattern",
    "object_fields",
    "sanitize",
    "scrub_text",
    "unique_key",
]
