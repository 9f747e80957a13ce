"""Privacy: keyed hashing of PII and recursive sanitising of anything into JSON-safe data."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import hmac
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .config import pii_salt

SCHEMA_VERSION = "1.0"
STATUSES = ("SUCCESS", "FAILED", "ERROR", "ESCALATED")
HASH_PREFIX = "sha256:"

REDACTED = "[REDACTED]"
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
NAME_MASK = "[name]"

# Long enough for a ReAct observation or a drafted answer; a pasted document gets cut.
MAX_STRING = 4000
# Enough for every ReAct iteration of a normal run and every retrieval hit.
MAX_ITEMS = 200
# Workflow states are a few levels deep; anything deeper is a loop we did not see as one.
MAX_DEPTH = 32

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
_NAME_KEYS = frozenset(
    {"requester_name", "customer_name", "full_name", "first_name", "last_name", "requester"}
)

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|api[-_ ]?key|apikey|access[-_]?key|private[-_]?key|"
    r"auth|credential|cookie|session[-_]?(id|key)|token|signature|bearer|dsn|cvv|card[-_]?number|"
    # Keys that carry a credential in a URL or connection string.
    r"(database|db|redis|broker|amqp|mongo|postgres|mysql)[-_]?(url|uri)|"
    r"conn(ection)?[-_]?str(ing)?|webhook[-_]?url|"
    r"(encryption|signing|master|client|hmac|licen[cs]e)[-_]?key|"
    # Short names only as a whole word of the key ("user_pin", not "shipping").
    r"(^|[-_ .])(pwd|pin|otp|mfa|2fa|sig|ssn|iban|cvc|jwt|sas)([-_ .]|$)",
    re.IGNORECASE,
)
# Token *counts* are metrics, not secrets.
_NOT_SECRET_KEY = re.compile(
    r"^(max|num|total|prompt|completion|input|output|used|n)_?tokens?$|^tokens?_?(count|used|total)$|"
    r"^author(s|_name)?$",
    re.IGNORECASE,
)

# The local-part alphabet of RFC 5322 (dot-atom) plus Unicode letters (RFC 6531), so unusual
# and internationalised addresses are caught too; "%40" is an "@" in a URL's query string.
# Every repetition is bounded (RFC 5321: 64 characters of local part, 63 per label): an
# unbounded one makes the scan quadratic, and a long run of such characters with an "@" in
# it (a base64 blob, a dotted path) then holds the workflow's thread for minutes.
_EMAIL = re.compile(
    r"[\w!#$%&'*+/=?^`{|}~.-]{1,64}(?:@|%40)(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}"
    r"[\w-]{0,20}[^\W\d_][\w-]{0,40}"
)
# Phone numbers in free text: +country code, or groups split by spaces, dots, dashes. A
# sentence's closing period may follow; a dotted or dashed continuation (a version, an id)
# may not.
_PHONE = re.compile(
    r"(?<![\w.+-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,8}){1,5}"
    r"(?!\w|[.-]\w)"
    r"|(?<![\w.+])\+\d{8,15}(?!\w)"
    # Unseparated digits: a national trunk prefix (0612345678, 07700900123, 0044...).
    r"|(?<![\w.+-])0\d{8,14}(?!\w|[.-]\w)"
)
# Unseparated digits right after a word that announces a phone number ("call me: 4155550142").
_PHONE_AFTER_WORD = re.compile(
    r"(?i)(\b(?:phone|tel|telephone|mobile|cell|call|fax|whatsapp|sms|reach)\w*\b[^\w\n]{0,3}"
    r"(?:(?:me|us|on|at|is|no|nr|number)\b[^\w\n]{0,3}){0,3})(\+?\d{9,15})(?!\w|[.-]\w)"
)
# The name of a secret in "name=value", "name: value" or JSON's "name": "value" inside text.
_CREDENTIAL_NAME_IN_TEXT = (
    r"(?:[\w.-]{0,40}?(?:password|passwd|passphrase|secret|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|token|credentials?|signature|cookie|session[_-]?(?:id|key)|sessionid|"
    r"authori[sz]ation|auth(?!or)[\w-]{0,40}|dsn)[\w.-]{0,40}"
    # Short names only as a whole word or after a separator ("db_pwd", not "bypass").
    r"|(?:[\w.-]{0,40}?[_.-])?(?:pass|pwd|pw|pin|sig))"
)
_SECRET_PAIR = re.compile(
    r"(?i)(?<![\w-])(" + _CREDENTIAL_NAME_IN_TEXT + r")([\"']?\s*[=:]\s*)"
    # An Authorization header's scheme stays readable; its credentials do not.
    r"((?:bearer|basic|token|digest|apikey)\s+)?"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&)}\"']+)"
)


def _secret_pair_sub(match: re.Match[str]) -> str:
    name, sep, scheme = match.group(1), match.group(2), match.group(3) or ""
    if _NOT_SECRET_KEY.search(name):
        return match.group(0)  # prompt_tokens=30 is a metric
    return f"{name}{sep}{scheme}{REDACTED}"


_SECRET_IN_TEXT: list[tuple[re.Pattern[str], Any]] = [
    # "Authorization: Bearer abc", "bearer abc"
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), r"\1 " + REDACTED),
    # key=value / key: value / "key": "value" pairs whose key looks secret
    (_SECRET_PAIR, _secret_pair_sub),
    # Provider key shapes: OpenAI sk-..., Stripe-style sk_live_..., Flusso flk_..., GitHub,
    # Slack, AWS (long-term and temporary), Google, JWTs.
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{6,}"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])[a-z]{2,8}_(?:live|test)_[A-Za-z0-9]{4,}"), REDACTED),
    (re.compile(r"\bflk_[0-9a-fA-F]{6,}_[A-Za-z0-9_-]+"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{8,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    # An AWS secret access key: 40 base64 characters with upper, lower case and a digit.
    (
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[A-Z])"
            r"(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        REDACTED,
    ),
    # "password is hunter22", "secret wJalr...": a value with a digit right after the word.
    (
        re.compile(
            r"(?i)\b((?:password|passwd|passphrase|secret|token|api[_ -]?key)\s+(?:is\s+)?)"
            r"(?=[^\s\[]{0,80}\d)[^\s\[]{8,}"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b[a-z][a-z0-9+.-]{0,30}://[^\s:/@]{1,256}:[^\s@/]{1,256}@"), REDACTED + "@"),
]


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


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _NOT_SECRET_KEY.search(key)


def _phone_sub(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    # 9..15 digits (E.164); fewer are dates, prices, order numbers.
    if 9 <= digits <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text):
        return PHONE_MASK
    return text


def scrub_text(text: str, known: re.Pattern[str] | None = None) -> str:
    """Mask PII and secrets inside free text."""
    if known is not None:
        text = known.sub(lambda m: _known_mask(m.group(0)), text)
    for pattern, repl in _SECRET_IN_TEXT:
        text = pattern.sub(repl, text)
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    if any(c.isdigit() for c in text):
        text = _PHONE.sub(_phone_sub, text)
        text = _PHONE_AFTER_WORD.sub(lambda m: m.group(1) + PHONE_MASK, text)
    return text


def _known_mask(value: str) -> str:
    if "@" in value:
        return EMAIL_MASK
    if any(c.isdigit() for c in value):
        return PHONE_MASK
    return NAME_MASK


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
                        _add_known(found, text, name=key.lower() in _NAME_KEYS)
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
            return int(obj)  # int subclasses (IntEnum) become plain ints
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else None
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
                    out[skey] = self._hash(value)
                elif is_secret_key(skey) and not _empty(value):
                    out[skey] = REDACTED
                else:
                    out[skey] = self._clean(value, depth + 1, path)
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


def _empty(value: Any) -> bool:
    """An empty value under a secret key says nothing; keep it so "no key configured" shows."""
    return value is None or (isinstance(value, (str, list, dict)) and not value)


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
