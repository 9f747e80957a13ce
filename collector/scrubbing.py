"""Server-side scrubbing: the second line of defence behind the shipper.

Before a document is stored, every string in it (keys included) is scrubbed and values
under keys that name a secret become ``"[REDACTED]"`` at any depth. The tokens, the same
as the shipper's (``shipper/privacy/``):

- ``[REDACTED]``: a secret (a password, an API key or token, a private key, the password
  of a connection string, a webhook URL), or any value under a secret key;
- ``[email]``, ``[card]`` (a Luhn-valid card number), ``[iban]`` (a checksum-valid IBAN):
  personal data found in free text (the shipper adds ``[phone]`` and ``[name]``).

The key vocabulary and the text rules below are kept identical to the shipper's by one
corpus of cases that both test suites run (``testdata/scrubbing_corpus.json``); the two
are separate code because the collector never imports the shipper.

Most documents (the shipper scrubs before sending) hold nothing to scrub, and the fast
path is what ingestion pays for them: one walk collecting the document's strings, one
case-folded copy of them joined, and for each rule a substring test (its *triggers*) that
every text the rule can change passes; only a rule whose trigger is present runs its
regex. A property test holds each trigger to its rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick

REDACTED = "[REDACTED]"
EMAIL_MASK = "[email]"
CARD_MASK = "[card]"
IBAN_MASK = "[iban]"

# Nesting deeper than this is refused: no workflow log needs it, and unbounded depth is a
# way to exhaust the stack of every JSON encoder on the way to the database.
MAX_DEPTH = 64

# -- The key vocabulary (identical in shipper/privacy/keys.py) ----------------------------
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


# -- Text rules (identical, in this order, in shipper/privacy/patterns.py) ------------
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
# The same pairs read backwards from their separator, for the fast path (see _pairs_change).
_PAIR_REVERSED = re.compile(r"[=:]\s{0,8}[\"']?([\w.\-]{1,80})(?![\w.\-])")


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


def _pairs_change(text: str) -> bool:
    """Whether _mask_pairs changes the text, without scanning it forwards: every pair ends
    at a separator, and read backwards from there its name is the run of name characters
    before it. Only a secret name is then matched forwards, where it starts."""
    if "=" not in text and ":" not in text:
        return False
    size = len(text)
    reversed_text = text[::-1]
    # Matched at each separator found (in C) rather than searched for: the search tried
    # every position, 20 ns a byte. No match holds a separator, so this finds the same.
    for separator in "=:":
        at = reversed_text.find(separator)
        while at != -1:
            backwards = _PAIR_REVERSED.match(reversed_text, at)
            at = reversed_text.find(separator, at + 1)
            if backwards is None:
                continue
            name = backwards.group(1)[::-1]
            if is_secret_key(name) or name.lower() in _SPACED_LAST_WORDS:
                match = _PAIR.match(text, size - backwards.end(1))
                if match is not None and _pair_masking(text, match) is not None:
                    return True
    return False


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


# Byte classes for the fast path's run tests (bytes.translate runs in C; a regex scan costs
# ten times more). Bytes of non-ASCII characters are never ASCII, so UTF-8 keeps classes.
def _byte_classes(classes: dict[bytes, bytes], other: bytes = b"x") -> bytes:
    table = bytearray(other * 256)
    for members, symbol in classes.items():
        for byte in members:
            table[byte] = symbol[0]
    return bytes(table)


_DIGITS = b"0123456789"
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()
# Digits as "0", spaces and dashes deleted: a card number is 13 zeros in a row.
_CARD_BYTES = _byte_classes({_DIGITS: b"0"})
# Capitals as "A", small letters as "a", digits as "0", spaces deleted: an IBAN starts
# "AA00", or "aa00" in lower case, which is common ("sha256:"), so the 11 characters after
# it are looked at too.
_IBAN_BYTES = _byte_classes({_UPPER: b"A", _LOWER: b"a", _DIGITS: b"0", b" ": b" "})
# What the IBAN pattern needs, in those classes: a start no letter or digit precedes, two
# letters, two digits, 11 more with single spaces between (spaces kept: deleting them made
# any prose with a number, "cartridge 461 replacement", look like an IBAN's start, and the
# pattern then ran over every clean document).
_IBAN_START = re.compile(rb"(?<![Aa0])(?:AA00(?: ?[A0]){11}|aa00(?: ?[a0]){11})")
# The AWS key alphabet as "b" and "=" as "=": a key is exactly 40 "b" between two others.
_AWS_BYTES = _byte_classes({_UPPER + _LOWER + _DIGITS + b"/+": b"b", b"=": b"="})
_AWS_RUN = b"x" + b"b" * 40 + b"x"


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


# ``_IBAN_START`` after its first four bytes, tried only where those are (a search with
# the pattern's leading look-behind tries every position: 30 ns a byte, half the clean
# document's check; finding "AA00" and "aa00" runs in C).
_IBAN_TAILS = ((b"AA00", re.compile(rb"(?: ?[A0]){11}")), (b"aa00", re.compile(rb"(?: ?[a0]){11}")))


def _may_hold_iban(text: str) -> bool:
    """Whether the text has what an IBAN starts with (``_IBAN_START``)."""
    classes = _encoded(text).translate(_IBAN_BYTES)
    for head, tail in _IBAN_TAILS:
        at = classes.find(head)
        while at != -1:
            if (at == 0 or classes[at - 1] not in b"Aa0") and tail.match(classes, at + 4):
                return True
            at = classes.find(head, at + 1)
    return False


@dataclass(frozen=True)
class _Rule:
    """A text rule: ``apply`` masks; ``may_change`` is cheap and true for every text the
    rule changes (a property test holds it to that); ``changes`` is the exact answer."""

    pattern: re.Pattern[str]
    repl: str | Callable[[re.Match[str]], str] | None = None
    # Substrings of the text (case-folded when ``folded``), one of which is in every text
    # the rule changes; or a function of (text, folded) saying the same.
    triggers: tuple[str, ...] = ()
    folded: bool = False
    test: Callable[[str, str], bool] | None = None
    # A faster exact answer than scanning with the pattern.
    exact: Callable[[str], bool] | None = None
    # Replaces the pattern's sub() as the way to apply the rule.
    mask: Callable[[str], str] | None = None

    def may_change(
        self, text: str, folded: str, found: tuple[set[str], set[str]] | None = None
    ) -> bool:
        """``found``: the triggers present in (text, folded), when a pass found them."""
        if self.test is not None:
            return self.test(text, folded)
        if found is not None:
            return not found[self.folded].isdisjoint(self.triggers)
        haystack = folded if self.folded else text
        return any(trigger in haystack for trigger in self.triggers)

    def changes(self, text: str) -> bool:
        if self.exact is not None:
            return self.exact(text)
        if isinstance(self.repl, str):
            return self.pattern.search(text) is not None
        assert self.repl is not None
        return any(self.repl(match) != match.group(0) for match in self.pattern.finditer(text))

    def apply(self, text: str) -> str:
        if self.mask is not None:
            return self.mask(text)
        assert self.repl is not None
        return self.pattern.sub(self.repl, text)


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


# Each word of the rule above starts with one of these.
_SECRET_AFTER_WORD_STARTS = (
    "pass",
    "pwd",
    "kennwort",
    "contrase",
    "senha",
    "wachtwoord",
    "mot de passe",
    "secret",
    "token",
    "api",
    "pin",
    "otp",
)
# The cheap check needs fewer: "pass" is in "mot de passe".
_SECRET_AFTER_WORD_TRIGGERS = tuple(
    start for start in _SECRET_AFTER_WORD_STARTS if start != "mot de passe"
)


def _secret_after_word_changes(text: str, folded: str) -> bool:
    """Matches tried only where one of the rule's words starts (the folded copy has the
    text's length, so its offsets are the text's)."""
    if len(folded) != len(text):
        return _SECRET_AFTER_WORD.search(text) is not None
    for start in _SECRET_AFTER_WORD_STARTS:
        at = folded.find(start)
        while at != -1:
            if _SECRET_AFTER_WORD.match(text, at):
                return True
            at = folded.find(start, at + 1)
    return False


# Where every provider key shape below starts (case-sensitive, as the pattern is).
_PROVIDER_PREFIXES = (
    *("sk-", "_live_", "_test_", "flk_", "xox", "AKIA", "ASIA", "AIza", "eyJ"),
    *("SG.", "hf_", "npm_", "pypi-", "whsec_"),
    # GitHub and GitLab tokens.
    *("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    *("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-"),
)

_RULES: tuple[_Rule, ...] = (
    # A PEM private key, its BEGIN line to its END line (or the end of its base64 body).
    _Rule(
        re.compile(
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:\s{0,8}(?:Proc-Type|DEK-Info|Comment|Version):[^\n\x00]{0,200}){0,4}"
            r"[A-Za-z0-9+/=\s\\]{0,16384}"
            r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
        ),
        REDACTED,
        triggers=("-----BEGIN",),
    ),
    # Webhook URLs are credentials: whoever has one can post as the integration.
    _Rule(
        re.compile(
            r"(?i)https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
            r"[A-Za-z0-9/_\-]{8,256}"
            r"|(?:canary\.|ptb\.)?discord(?:app)?\.com/api/webhooks/[0-9]{5,30}/"
            r"[A-Za-z0-9_\-]{20,128})"
        ),
        REDACTED,
        triggers=("hooks.slack.com", "/api/webhooks/"),
        folded=True,
    ),
    # The password of a connection string or URL: postgres://user:[REDACTED]@host/db.
    _Rule(
        re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,30}://[^\s:/@\x00]{0,256}:)([^\s/\x00]{1,256})@"),
        _connection_sub,
        test=lambda text, folded: "://" in text and "@" in text,
    ),
    # "Authorization: Bearer abc", "bearer abc"; a Basic credential is base64 (a digit or
    # one of +/=), so "basic questions" stays.
    _Rule(
        re.compile(r"(?i)\b(bearer)\s{1,8}[A-Za-z0-9._~+/=\-]{4,4096}"),
        r"\1 " + REDACTED,
        triggers=("bearer",),
        folded=True,
    ),
    _Rule(
        re.compile(
            r"(?i)\b(basic)\s{1,8}(?=[A-Za-z0-9._~+/=\-]{0,4095}[0-9+/=])"
            r"[A-Za-z0-9._~+/=\-]{4,4096}"
        ),
        r"\1 " + REDACTED,
        triggers=("basic",),
        folded=True,
    ),
    _Rule(
        _PAIR,
        test=lambda text, folded: "=" in text or ":" in text,
        exact=_pairs_change,
        mask=_mask_pairs,
    ),
    _Rule(_ENCODED_PAIR, _encoded_pair_sub, triggers=("%3d", "%3a", "%253"), folded=True),
    # "the password is hunter22", "secret wJalr...": a value with a digit or a symbol right
    # after the word; "the passcode is 1234", "PIN 4821"; "password reset link sent" and
    # "the secret sauce" stay.
    _Rule(
        _SECRET_AFTER_WORD,
        _secret_after_word_sub,
        triggers=_SECRET_AFTER_WORD_TRIGGERS,
        folded=True,
        exact=lambda text: _secret_after_word_changes(text, _fold(text)),
    ),
    # Provider key shapes: OpenAI sk-..., Stripe and others' sk_live_/rk_live_/.._test_...,
    # Flusso flk_..., GitHub, Slack, AWS key ids, Google AIza..., GitLab gl...-, JWTs,
    # SendGrid SG.<22>.<43>, Hugging Face hf_, npm npm_, PyPI pypi-AgE (a macaroon),
    # Stripe webhook secrets whsec_.
    _Rule(
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
        triggers=_PROVIDER_PREFIXES,
    ),
    # An AWS secret access key: 40 base64 characters with upper, lower case and a digit.
    _Rule(
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[A-Z])"
            r"(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        REDACTED,
        test=lambda text, folded: _AWS_RUN in b"x" + _encoded(text).translate(_AWS_BYTES) + b"x",
    ),
    # E-mail addresses: the local-part alphabet of RFC 5322 plus Unicode letters (RFC 6531),
    # so josé@example.com and user@exämple.de are caught; "%40" is an "@" in a URL, where
    # "/", "=" and "?" start the URL's parts ("/u?email=frank%40example.com"), and "%2540"
    # one encoded twice (up to four times). Its local part holds no "%": otherwise
    # "%40%40%40..." made every position scan 64 characters twice, 20 times the cost of
    # plain text (a 9 MiB batch held a worker for 23 s).
    _Rule(
        re.compile(
            r"(?:[\w!#$%&'*+/=?^`{|}~.\-]{1,64}@|[\w!#&'*+^`{|}~.\-]{1,64}%(?:25){0,3}40)"
            r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.){1,8}"
            r"[\w\-]{0,20}[^\W\d_][\w\-]{0,40}"
        ),
        EMAIL_MASK,
        triggers=("@", "%40", "%25"),
    ),
    # Card numbers: four digits, then 9-15 more, single spaces or dashes between any of
    # them; not inside a longer number, a decimal, an international phone number or a
    # dashed identifier (a UUID whose first groups are digits: its log_id was masked and
    # the log refused, one in about 20,000).
    _Rule(
        re.compile(
            r"(?<![A-Za-z0-9]-)[0-9](?<![\w.,+][0-9])(?<![0-9][ \-][0-9])[0-9]{3}"
            r"(?:[ \-]?[0-9]){9,15}"
            r"(?![\w]|[ \-][0-9]|-[A-Za-z0-9])",
            re.ASCII,
        ),
        _card_sub,
        test=lambda text, folded: b"0" * 13 in _encoded(text).translate(_CARD_BYTES, b" -"),
    ),
    # IBANs: country, check digits, 11-30 capitals or digits in groups; or all of it in
    # lower case ("de89 3704 ..."), not a mix (few identifiers pass the check, fewer still
    # if their case must be one).
    _Rule(
        re.compile(
            r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"
            r"|[a-z](?<![A-Za-z0-9][a-z])[a-z][0-9]{2}(?: ?[a-z0-9]){11,30}(?![A-Za-z0-9])"
        ),
        _iban_sub,
        test=lambda text, folded: _may_hold_iban(text),
    ),
)


def _automaton(rules: tuple[_Rule, ...]) -> ahocorasick.Automaton:
    """Every rule's triggers in one automaton, searched in the folded copy of the text.

    A case-sensitive trigger goes in lower-cased: it is ASCII, and lowering a text maps
    each ASCII character to its lower-case letter wherever it stands, so a trigger in the
    text is always found, lower-cased, in the folded copy. What is found there is then
    looked for in the text itself. Each word maps to the (trigger, folded) pairs it stands for.
    """
    words: dict[str, set[tuple[str, bool]]] = {}
    for rule in rules:
        for trigger in rule.triggers:
            if not rule.folded and not trigger.isascii():
                raise ValueError(f"A case-sensitive trigger must be ASCII: {trigger!r}")
            word = trigger if rule.folded else trigger.lower()
            words.setdefault(word, set()).add((trigger, rule.folded))
    automaton = ahocorasick.Automaton()
    for word, meanings in sorted(words.items()):
        automaton.add_word(word, tuple(sorted(meanings)))
    automaton.make_automaton()
    return automaton


# Every rule's trigger substrings in one Aho-Corasick automaton: a clean document's check
# is one pass over its folded text for all of them, where a substring test per trigger
# read the text some forty times (and one pass per haystack, twice).
_TRIGGERS = _automaton(_RULES)


# A pass reports every occurrence, where a substring test stops at the first: past this
# many (a text of nothing but "@"), the rules are asked one by one instead, as before.
_AUTOMATON_HITS = 256


def _found(text: str, folded: str) -> tuple[set[str], set[str]] | None:
    """The triggers in (text, folded), from one pass over the folded copy; None past
    _AUTOMATON_HITS occurrences."""
    in_text: set[str] = set()
    in_folded: set[str] = set()
    absent: set[str] = set()
    for count, (_, meanings) in enumerate(_TRIGGERS.iter(folded)):
        if count == _AUTOMATON_HITS:
            return None
        for trigger, is_folded in meanings:
            if is_folded:
                in_folded.add(trigger)
            elif trigger not in in_text and trigger not in absent:
                (in_text if trigger in text else absent).add(trigger)
    return in_text, in_folded


def _rules_that_may_change(text: str, folded: str) -> tuple[_Rule, ...]:
    """The rules whose ``may_change`` is true for the text, their triggers found in one
    pass over its folded copy (a test holds this to asking each rule)."""
    found = _found(text, folded)
    return tuple(rule for rule in _RULES if rule.may_change(text, folded, found))


# Python's re matches these four letters to ASCII ones under IGNORECASE (its documentation
# says so); the triggers are searched in a copy folded the same way.
_FOLD_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _fold(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_FOLD_TO_ASCII).lower()


def _scrub_text_with(text: str, rules: tuple[_Rule, ...]) -> str:
    folded = _fold(text)
    for rule in rules:
        # A replacement only brings bracketed tokens that hold no trigger: what a rule's
        # check found in the original text stays true after the rules before it.
        if rule.may_change(text, folded):
            text = rule.apply(text)
    return text


def scrub_text(text: str) -> str:
    """Mask secrets, e-mail addresses, card numbers and IBANs inside free text."""
    return _scrub_text_with(text, _RULES)


def _scrub_number(value: int | float) -> Any:
    """A JSON number that is a card number becomes ``[card]``."""
    if isinstance(value, float):
        if not (1e12 <= abs(value) < 1e19 and value.is_integer()):
            return value
        digits = str(int(abs(value)))
    else:
        if not 10**12 <= abs(value) < 10**19:
            return value
        digits = str(abs(value))
    return CARD_MASK if is_card_number(digits) else value


class DocumentTooDeep(ValueError):
    """The document nests deeper than MAX_DEPTH."""


def _scan(value: Any, strings: list[str], numbers: list[int | float], depth: int) -> bool:
    """Collect every string (keys included) and every long number of the value; True when
    a key asks for redaction.

    Raises DocumentTooDeep past MAX_DEPTH, as the copy below does. Strings and numbers
    inside a container are taken where they are found, without a call each: most of a
    document is such leaves, and this walk is most of what a clean document costs.
    """
    if isinstance(value, str):
        strings.append(value)
        return False
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise DocumentTooDeep
        found = False
        append = strings.append
        for key, item in value.items():
            append(key)
            kind = type(item)
            if is_secret_key(key) and not _says_nothing(item):
                found = True
            elif kind is str:
                append(item)
            elif kind is float or kind is int:
                if abs(item) >= 1e12:
                    numbers.append(item)
            elif _scan(item, strings, numbers, depth + 1):
                found = True
        return found
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise DocumentTooDeep
        found = False
        append = strings.append
        for item in value:
            kind = type(item)
            if kind is str:
                append(item)
            elif kind is float or kind is int:
                if abs(item) >= 1e12:
                    numbers.append(item)
            elif _scan(item, strings, numbers, depth + 1):
                found = True
        return found
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e12:
        numbers.append(value)
    return False


# Joins the strings of a document for one search. No rule matches a NUL, and no stored
# string holds one (the parser refuses them), so no match can span two strings.
_JOIN = "\x00"


def _plan(value: Any) -> tuple[_Rule, ...] | None:
    """None when the value holds nothing to scrub; else the rules to run on its strings.

    A rule whose cheap check is false for the strings joined is false for each of them,
    so the copy runs only the others (on a document with an address in it, the e-mail rule
    and few more, instead of every rule on every string).
    """
    strings: list[str] = []
    numbers: list[int | float] = []
    redact = _scan(value, strings, numbers, 0)
    text = _JOIN.join(strings)
    folded = _fold(text)
    rules = _rules_that_may_change(text, folded)
    if redact or any(_scrub_number(number) is not number for number in numbers):
        return rules
    if any(rule.changes(text) for rule in rules):
        return rules
    return None


def _unique_key(out: dict[str, Any], key: str) -> str:
    """Two keys masked alike ("a@x.example" and "b@y.example" both "[email]") both stay."""
    if key not in out:
        return key
    number = 2
    while f"{key} ({number})" in out:
        number += 1
    return f"{key} ({number})"


def _scrub(value: Any, rules: tuple[_Rule, ...], depth: int = 0) -> Any:
    if isinstance(value, str):
        return _scrub_text_with(value, rules) if rules else value
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise DocumentTooDeep
        out: dict[str, Any] = {}
        for key, item in value.items():
            if is_secret_key(key) and not _says_nothing(item):
                clean = REDACTED
            else:
                clean = _scrub(item, rules, depth + 1)
            out[_unique_key(out, _scrub_text_with(key, rules) if rules else key)] = clean
        return out
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise DocumentTooDeep
        return [_scrub(item, rules, depth + 1) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _scrub_number(value)
    return value


def scrub_document(value: Any) -> Any:
    """A scrubbed copy of a parsed JSON value; raises DocumentTooDeep past MAX_DEPTH.

    Most documents (the shipper hashes and masks before sending) hold nothing to scrub:
    one walk collecting their strings and one search over them finds that out, and the
    value comes back as it is. Only a document with something to mask is copied string
    by string.
    """
    rules = _plan(value)
    if rules is None:
        return value
    return _scrub(value, rules)
