"""Which keys hold personal data (hashed) and which hold secrets (redacted)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# Keys whose values are the ticket's personal data: hashed, never kept in clear.
PII_KEYS = frozenset(
    {
        "requester_email",
        "requester_name",
        "requester_phone",
        "requester",
        "email",
        "email_address",
        "phone",
        "phone_number",
        "mobile",
        "subject",
        "customer_email",
        "customer_name",
        "customer_phone",
        "from_email",
        "reply_to",
        "cc_emails",
        "to_emails",
        "full_name",
        "first_name",
        "last_name",
    }
)
# Of those, the ones that name a person: their words are masked wherever they appear.
NAME_KEYS = frozenset(
    {"requester_name", "customer_name", "full_name", "first_name", "last_name", "requester"}
)

# -- The key vocabulary (identical in collector/scrubbing.py) ----------------------------------
# A key is split into lower-case words at separators and camelCase humps, and a word's
# trailing digits are dropped ("password1", "cvv2"). It is secret when:
# - one of its words is a secret word ("db_password", "X-Auth-Token", "Passwort");
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwords",
        "passwort",
        "kennwort",
        "passwd",
        "pwd",
        "pw",
        "passphrase",
        "passcode",
        "contraseña",
        "contrasena",
        "senha",
        "wachtwoord",
        "secret",
        "secrets",
        "token",
        "apikey",
        "authorization",
        "auth",
        "oauth",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "creds",
        "privatekey",
        "sessionid",
        "signature",
        "jwt",
        "bearer",
        "dsn",
        "otp",
        "totp",
        "hotp",
        "mfa",
        "2fa",
        "pin",
        "sig",
        "ssn",
        "cvv",
        "cvc",
        "cvn",
        "iban",
        "sas",
    }
)
# - or its last word is one of these, which lead ordinary keys too ("pass_rate", "db_pass");
_SECRET_LAST_WORDS = frozenset({"pass"})
# - or a run of its words spells one of these, as separate words or inside one ("api_key",
#   "apiKey", "APIKEY", "openaiapikey", "mot_de_passe", "DATABASE_URL").
SECRET_PHRASES = (
    ("api", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("private", "key"),
    ("session", "id"),
    ("session", "key"),
    ("mot", "de", "passe"),
    ("pass", "word"),
    ("pass", "phrase"),
    ("card", "number"),
    ("credit", "card"),
    ("cc", "number"),
    ("security", "code"),
    ("database", "url"),
    ("database", "uri"),
    ("db", "url"),
    ("db", "uri"),
    ("redis", "url"),
    ("redis", "uri"),
    ("broker", "url"),
    ("amqp", "url"),
    ("mongo", "url"),
    ("mongo", "uri"),
    ("postgres", "url"),
    ("mysql", "url"),
    ("conn", "str"),
    ("conn", "string"),
    ("connection", "string"),
    ("webhook", "url"),
    ("encryption", "key"),
    ("signing", "key"),
    ("master", "key"),
    ("client", "key"),
    ("hmac", "key"),
    ("license", "key"),
    ("licence", "key"),
    ("ssh", "key"),
    ("account", "key"),
)
_SECRET_JOINED = tuple("".join(phrase) for phrase in SECRET_PHRASES)
# A key whose only secret word is "token" and that counts something is a metric
# ("max_tokens" has no secret word; "token_count", "prompt_token_limit" do).
_COUNT_WORDS = frozenset(
    {
        "count",
        "counts",
        "used",
        "usage",
        "total",
        "max",
        "min",
        "num",
        "limit",
        "limits",
        "prompt",
        "completion",
        "input",
        "output",
        "remaining",
        "budget",
        "rate",
    }
)
# \W is Unicode-aware: "contraseña" is one word.
_WORD_SPLIT = re.compile(r"[\W_]+|(?<=[a-z0-9])(?=[A-Z])")


def _key_words(key: str) -> list[str]:
    words = []
    for word in _WORD_SPLIT.split(key):
        if word:
            word = word.lower()
            words.append(word.rstrip("0123456789") or word)
    return words


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether values under this key are secrets (the shared corpus lists the cases)."""
    words = _key_words(key)
    if not words:
        return False
    reasons = {word for word in words if word in _SECRET_WORDS}
    if words[-1] in _SECRET_LAST_WORDS:
        reasons.add(words[-1])
    if reasons:
        return reasons != {"token"} or _COUNT_WORDS.isdisjoint(words)
    if any(joined in word for word in words for joined in _SECRET_JOINED):
        return True
    for phrase in SECRET_PHRASES:
        size = len(phrase)
        for start in range(len(words) - size + 1):
            if tuple(words[start : start + size]) == phrase:
                return True
    return False


def says_nothing(value: Any) -> bool:
    """Kept under a secret key: nothing, an empty value or a flag ("mfa_enabled": true)
    says nothing of the secret, and shows that none was configured."""
    return (
        value is None
        or isinstance(value, bool)
        or (isinstance(value, (str, list, dict)) and not value)
    )
