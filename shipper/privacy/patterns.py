"""Masking free text: the text rules, in the collector's order, then phone numbers."""

from __future__ import annotations

import re
from typing import Any

from .numbers import card_sub, iban_sub
from .pairs import ENCODED_PAIR, PAIR, encoded_pair_sub, mask_pairs
from .tokens import EMAIL_MASK, NAME_MASK, PHONE_MASK, REDACTED

# -- Text rules (identical, in this order, in collector/scrubbing.py) ----------------------
# Every repetition is bounded and no rule can match across a NUL (none of its classes
# holds one), so a scan is linear in the text and the document's strings can be searched
# joined by NUL. The bounds: RFC 5321 lengths for addresses, 4096 for a credential, 16 KiB
# for a PEM block (an 8192-bit RSA key is about 6.5 KB). The two pair rules are in
# pairs.py; they keep their place in ``_TEXT_RULES`` below.


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
    (PAIR, None),  # applied by mask_pairs
    (ENCODED_PAIR, encoded_pair_sub),
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
        card_sub,
    ),
    # IBANs: country, check digits, 11-30 capitals or digits in groups; or all of it in
    # lower case ("de89 3704 ..."), not a mix (few identifiers pass the check, fewer still
    # if their case must be one).
    (
        re.compile(
            r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"
            r"|[a-z](?<![A-Za-z0-9][a-z])[a-z][0-9]{2}(?: ?[a-z0-9]){11,30}(?![A-Za-z0-9])"
        ),
        iban_sub,
    ),
)


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
        text = mask_pairs(text) if repl is None else pattern.sub(repl, text)
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
