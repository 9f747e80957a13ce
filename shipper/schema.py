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
from functools import lru_cache
from typing import Any

from .config import pii_salt

SCHEMA_VERSION = "1.0"
STATUSES = ("SUCCESS", "FAILED", "ERROR", "ESCALATED")
HASH_PREFIX = "sha256:"

# The tokens, the same as the collector's (collector/scrubbing.py): a secret, or any value
# under a secret key, is REDACTED; personal data found in free text is masked by kind.
REDACTED = "[REDACTED]"
EMAIL_MASK = "[email]"
CARD_MASK = "[card]"
IBAN_MASK = "[iban]"
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
_SECRET_PHRASES = (
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
_SECRET_JOINED = tuple("".join(phrase) for phrase in _SECRET_PHRASES)
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
    for phrase in _SECRET_PHRASES:
        size = len(phrase)
        for start in range(len(words) - size + 1):
            if tuple(words[start : start + size]) == phrase:
                return True
    return False


def _says_nothing(value: Any) -> bool:
    """Kept under a secret key: nothing, an empty value or a flag ("mfa_enabled": true)
    says nothing of the secret, and shows that none was configured."""
    return (
        value is None
        or isinstance(value, bool)
        or (isinstance(value, (str, list, dict)) and not value)
    )


# -- Numbers: cards and IBANs ---------------------------------------------------------
def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """13-19 digits of a card network's range (the major industry identifiers 3-6, and
    Mastercard's 2221-2720) whose Luhn check digit holds. Epoch timestamps (which start
    with 1) and most ticket or order numbers are none of these."""
    if not 13 <= len(digits) <= 19 or not digits.isdigit():
        return False
    if digits[0] not in "3456" and not (digits[0] == "2" and 2221 <= int(digits[:4]) <= 2720):
        return False
    return _luhn_valid(digits)


def _card_sub(match: re.Match[str]) -> str:
    text = match.group(0)
    return CARD_MASK if is_card_number(text.replace(" ", "").replace("-", "")) else text


# IBAN lengths by country (the SWIFT IBAN registry).
_IBAN_LENGTHS = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FO", "GL", "NL", "SD", "FK"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "XK", "MN"], 20),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "TL", "OM", "SO"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["LY", "PT", "ST"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["FR", "GR", "IT", "MC", "MR", "SM", "BI", "DJ"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV", "NI"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU", "YE"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
    **dict.fromkeys(["RU"], 33),
}


def is_iban(compact: str) -> bool:
    """A country's IBAN length and a valid ISO 13616 check (mod 97 == 1)."""
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _iban_sub(match: re.Match[str]) -> str:
    """The pattern takes every following group of capitals and digits; the IBAN is the
    first <country length> of them, and the rest stays."""
    text = match.group(0)
    length = _IBAN_LENGTHS.get(text[:2].upper())
    if length is None:
        return text
    seen = 0
    for end, char in enumerate(text, 1):
        if char != " ":
            seen += 1
            if seen == length:
                if is_iban(text[:end].replace(" ", "").upper()):
                    return IBAN_MASK + text[end:]
                return text
    return text


# -- Text rules (identical, in this order, in collector/scrubbing.py) ----------------------
# Every repetition is bounded and no rule can match across a NUL (none of its classes
# holds one), so a scan is linear in the text and the document's strings can be searched
# joined by NUL. The bounds: RFC 5321 lengths for addresses, 4096 for a credential, 16 KiB
# for a PEM block (an 8192-bit RSA key is about 6.5 KB).

# name=value, name: value, "name": "value", ?name=value& whose name is a secret key by the
# vocabulary above; an Authorization header's scheme stays readable. The scan matches the
# name and separator only, so a pair whose name is not secret ("url=https://x/?token=abc")
# does not hide the pairs inside its value; the value is read after a secret name.
_PAIR = re.compile(
    r"(?<![\w.\-])([\w.\-]{1,80})([\"']?\s{0,8}[=:]\s{0,8})"
    r"((?i:bearer|basic|token|digest|apikey)\s{1,8})?"
)
_PAIR_VALUE = re.compile(
    r"\"[^\"\x00\n]{0,4096}\"|'[^'\x00\n]{0,4096}'|[\"']?[^\s,;&)}\"'\x00]{1,4096}"
)
# A name may also be one of the vocabulary's phrases written with spaces ("mot de passe: x",
# "API key: x", "pin code: 1234"), whose last word alone is no secret ("key", "code") and
# would let the value through. The scan above finds the last word; the phrase is then read
# backwards from it, only when that word ends one (an alternation of forty phrases tried at
# every name made the clean path's pair check twice as slow).
_SPACED_NAMES = (*(phrase for phrase in _SECRET_PHRASES if phrase[0] != "pass"), ("pin", "code"))
_SPACED = "|".join(r"[ \t]{1,4}".join(phrase) for phrase in _SPACED_NAMES)
_SPACED_LAST_WORDS = frozenset(phrase[-1] for phrase in _SPACED_NAMES)
_SPACED_BACKWARDS = re.compile(
    "(?i:"
    + "|".join(r"[ \t]{1,4}".join(word[::-1] for word in reversed(p)) for p in _SPACED_NAMES)
    + r")(?![\w.\-])"
)
# Longer than any spaced name with its spaces, and the character before it.
_SPACED_REACH = 64


def _spaced_name_ends(text: str, match: re.Match[str]) -> bool:
    """Whether the pair's name is the last word of a spaced secret name ("API key")."""
    if match.group(1).lower() not in _SPACED_LAST_WORDS:
        return False
    end = match.end(1)
    return _SPACED_BACKWARDS.match(text[max(0, end - _SPACED_REACH) : end][::-1]) is not None


# An unquoted value goes on over spaces ("password=correct horse battery staple"): up to
# the end of the line, a ",;&)}" or a quote, or the next "name=" or "name:" pair, which
# keeps its own (a word followed by a separator, or a spaced name, ends the value); at most
# 32 more words of 256 characters. Atomic words: a shorter piece of "user=bob" is no word.
_PAIR_VALUE_MORE = re.compile(
    rf"(?:[ \t]{{1,8}}(?!(?i:{_SPACED})[\"']?\s{{0,8}}[=:])"
    r"(?>[^\s,;&)}\"'\x00=:]{1,256})(?![\"']?\s{0,8}[=:])){0,32}"
)


def _pair_masking(text: str, match: re.Match[str]) -> tuple[int, str] | None:
    """Where a pair's value ends and what replaces it, or None when it stays (not secret,
    no value, already masked, or an empty "" that says nothing). The value is read only
    after a secret name: reading it at every "name=" made a run of them quadratic."""
    if not is_secret_key(match.group(1)) and not _spaced_name_ends(text, match):
        return None
    start = match.end()
    value = _PAIR_VALUE.match(text, start)
    if value is None and match.group(3):  # "password: token" is the value, not a scheme
        start = match.start(3)
        value = _PAIR_VALUE.match(text, start)
    if value is None:
        return None
    found = value.group(0)
    quote = found[0] if found[0] in "\"'" and len(found) > 1 and found[-1] == found[0] else ""
    if found in (REDACTED, f"{quote}{REDACTED}{quote}") or found == quote * 2:
        return None
    end = value.end()
    more = None if quote else _PAIR_VALUE_MORE.match(text, end)  # it matches, if only ""
    if more is not None:
        end = more.end()
    return end, f"{text[match.start() : start]}{quote}{REDACTED}{quote}"


def _mask_pairs(text: str) -> str:
    parts: list[str] = []
    done = 0
    for match in _PAIR.finditer(text):
        if match.start() < done:
            continue  # inside a value masked already
        masking = _pair_masking(text, match)
        if masking is not None:
            parts += (text[done : match.start()], masking[1])
            done = masking[0]
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


# A pair inside a percent-encoded URL ("next=%2Fhome%3Fpassword%3Dhunter22%26lang%3Den"):
# "%3D" is "=" and "%3A" ":" (encoded up to four times, as "%253D"); the name starts after
# an encoded "?", "&" or ",", and the value ends at an encoded "&" or ",". Both loops are
# bounded, so the scan stays linear; the value is masked only after a secret name.
_ENCODED_PAIR = re.compile(
    r"(?:(?<=[%5]3[Ff])|(?<=[%5]26)|(?<=[%5]2[Cc])|(?<![\w.\-%]))([\w.\-]{1,80})"
    r"%(?:25){0,3}3[DdAa]"
    r"((?:[^\s,;&)}\"'\x00%]|%(?!(?:25){0,3}2[6Cc])){1,4096})"
)


def _encoded_pair_sub(match: re.Match[str]) -> str:
    if not is_secret_key(match.group(1)) or match.group(2) == REDACTED:
        return match.group(0)
    return match.group(0)[: match.start(2) - match.start()] + REDACTED


def _connection_sub(match: re.Match[str]) -> str:
    if match.group(2) == REDACTED:
        return match.group(0)
    return f"{match.group(1)}{REDACTED}@"


_IS_WORDS = r"(?:(?:is|was|ist|war|es|era|est|é)\s{1,8})?"
# A value with a digit or a symbol, 6-256 characters.
_LONG_VALUE = (
    r"(?=[^\s\[\]\"'<>\x00]{0,255}[0-9#$%^&*_+=~])"
    r"[^\s\[\]\"'<>\x00]{5,255}[^\s\[\]\"'<>\x00.,;:!?)]"
)
# A PIN is shorter than that (shorter values after "password" are mostly words: "password
# was reset"): 4-8 digits after a PIN or password word, not part of a date or a decimal.
# "code" alone is not such a word ("error code 5003", "zip code 10115" stay), and "token"
# nor "secret" either ("max token 4096").
_PIN_VALUE = r"[0-9]{4,8}(?!\w|[.,:/\-][0-9A-Za-z])"
_SECRET_AFTER_WORD = re.compile(
    r"(?i)\b(?:((?:password|passwort|passwd|pwd|passphrase|passcode|kennwort|contraseña|"
    rf"contrasena|senha|wachtwoord|mot de passe)\s{{1,8}}{_IS_WORDS})(?:{_LONG_VALUE}|{_PIN_VALUE})"
    rf"|((?:secret|token|api[ _\-]?key)\s{{1,8}}{_IS_WORDS}){_LONG_VALUE}"
    rf"|((?:pin(?:[ \t]{{1,4}}code)?|otp)\s{{1,8}}{_IS_WORDS}){_PIN_VALUE})"
)


def _secret_after_word_sub(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2) or match.group(3)) + REDACTED


_EMAIL = re.compile(
    r"(?:[\w!#$%&'*+/=?^`{|}~.\-]{1,64}@|[\w!#&'*+^`{|}~.\-]{1,64}%(?:25){0,3}40)"
    r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.){1,8}"
    r"[\w\-]{0,20}[^\W\d_][\w\-]{0,40}"
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

_TEXT_RULES: tuple[tuple[re.Pattern[str], Any], ...] = (
    # A PEM private key, its BEGIN line to its END line (or the end of its base64 body).
    (
        re.compile(
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:\s{0,8}(?:Proc-Type|DEK-Info|Comment|Version):[^\n\x00]{0,200}){0,4}"
            r"[A-Za-z0-9+/=\s\\]{0,16384}"
            r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
        ),
        REDACTED,
    ),
    # Webhook URLs are credentials: whoever has one can post as the integration.
    (
        re.compile(
            r"(?i)https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
            r"[A-Za-z0-9/_\-]{8,256}"
            r"|(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/[0-9]{5,30}/"
            r"[A-Za-z0-9_\-]{20,128})"
        ),
        REDACTED,
    ),
    # The password of a connection string or URL: postgres://user:[REDACTED]@host/db.
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,30}://[^\s:/@\x00]{0,256}:)([^\s/\x00]{1,256})@"),
        _connection_sub,
    ),
    # "Authorization: Bearer abc", "bearer abc"; a Basic credential is base64 (a digit or
    # one of +/=), so "basic questions" stays.
    (re.compile(r"(?i)\b(bearer)\s{1,8}[A-Za-z0-9._~+/=\-]{4,4096}"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?i)\b(basic)\s{1,8}(?=[A-Za-z0-9._~+/=\-]{0,4095}[0-9+/=])"
            r"[A-Za-z0-9._~+/=\-]{4,4096}"
        ),
        r"\1 " + REDACTED,
    ),
    (_PAIR, None),  # applied by _mask_pairs
    (_ENCODED_PAIR, _encoded_pair_sub),
    # "the password is hunter22", "secret wJalr...": a value with a digit or a symbol right
    # after the word; "the passcode is 1234", "PIN 4821"; "password reset link sent" and
    # "the secret sauce" stay.
    (_SECRET_AFTER_WORD, _secret_after_word_sub),
    # Provider key shapes: OpenAI sk-..., Stripe and others' sk_live_/rk_live_/.._test_...,
    # Flusso flk_..., GitHub, Slack, AWS key ids, Google AIza..., GitLab gl...-, JWTs,
    # SendGrid SG.<22>.<43>, Hugging Face hf_, npm npm_, PyPI pypi-AgE (a macaroon),
    # Stripe webhook secrets whsec_.
    (
        re.compile(
            r"(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_\-]{12,512}"
            r"|[a-z]{2,8}_(?:live|test)_(?=[A-Za-z0-9]{0,511}[0-9])[A-Za-z0-9]{4,512}"
            r"|flk_[0-9a-fA-F]{6,32}_[A-Za-z0-9_\-]{8,256}"
            r"|gh[pousr]_[A-Za-z0-9]{16,256}"
            r"|github_pat_[A-Za-z0-9_]{22,256}"
            r"|xox[abprse]-[A-Za-z0-9\-]{8,256}"
            r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"
            r"|AIza[0-9A-Za-z_\-]{30,64}"
            r"|gl(?:pat|dt|rt|ptt|ft|soat|cbt)-[A-Za-z0-9_\-]{20,64}"
            r"|eyJ[A-Za-z0-9_\-]{5,4096}\.[A-Za-z0-9_\-]{5,4096}\.[A-Za-z0-9_\-]{0,4096}"
            r"|SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}"
            r"|(?:hf|npm)_[A-Za-z0-9]{30,64}"
            r"|pypi-AgE[A-Za-z0-9_\-]{50,4096}"
            r"|whsec_[A-Za-z0-9+/=]{24,128})"
        ),
        REDACTED,
    ),
    # An AWS secret access key: 40 base64 characters with upper, lower case and a digit.
    (
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[A-Z])"
            r"(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        REDACTED,
    ),
    # E-mail addresses: the local-part alphabet of RFC 5322 plus Unicode letters (RFC 6531),
    # so josé@example.com and user@exämple.de are caught; "%40" is an "@" in a URL, where
    # "/", "=" and "?" start the URL's parts ("/u?email=frank%40example.com"), and "%2540"
    # one encoded twice (up to four times). Its local part holds no "%": otherwise
    # "%40%40%40..." made every position scan 64 characters twice, 20 times the cost of
    # plain text (a 9 MiB batch held a worker for 23 s).
    (_EMAIL, EMAIL_MASK),
    # Card numbers: four digits, then 9-15 more, single spaces or dashes between any of
    # them; not inside a longer number, a decimal, an international phone number or a
    # dashed identifier (a UUID whose first groups are digits: its log_id was masked and
    # the log refused, one in about 20,000).
    (
        re.compile(
            r"(?<![A-Za-z0-9]-)[0-9](?<![\w.,+][0-9])(?<![0-9][ \-][0-9])[0-9]{3}"
            r"(?:[ \-]?[0-9]){9,15}"
            r"(?![\w]|[ \-][0-9]|-[A-Za-z0-9])",
            re.ASCII,
        ),
        _card_sub,
    ),
    # IBANs: country, check digits, 11-30 capitals or digits in groups; or all of it in
    # lower case ("de89 3704 ..."), not a mix (few identifiers pass the check, fewer still
    # if their case must be one).
    (
        re.compile(
            r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"
            r"|[a-z](?<![A-Za-z0-9][a-z])[a-z][0-9]{2}(?: ?[a-z0-9]){11,30}(?![A-Za-z0-9])"
        ),
        _iban_sub,
    ),
)


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


def _phone_sub(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    # 9..15 digits (E.164); fewer are dates, prices, order numbers.
    if 9 <= digits <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text):
        return PHONE_MASK
    return text


def scrub_text(text: str, known: re.Pattern[str] | None = None) -> str:
    """Mask PII and secrets inside free text.

    The known PII values go first; then the text rules shared with the collector (the
    corpus in testdata/scrubbing_corpus.json holds both to the same answers); phone numbers
    last, so a card number or an IBAN is not taken for one.
    """
    if known is not None:
        text = known.sub(lambda m: _known_mask(m.group(0)), text)
    for pattern, repl in _TEXT_RULES:
        text = _mask_pairs(text) if repl is None else pattern.sub(repl, text)
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
                elif is_secret_key(skey) and not _says_nothing(value):
                    clean = REDACTED
                else:
                    clean = self._clean(value, depth + 1, path)
                out[_unique_key(out, skey)] = clean
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


def _unique_key(out: dict[str, Any], key: str) -> str:
    """Two keys masked alike ("a@x.example" and "b@y.example" both "[email]") both stay."""
    if key not in out:
        return key
    number = 2
    while f"{key} ({number})" in out:
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
