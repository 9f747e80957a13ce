"""Secret ``name=value`` pairs in free text, plain or percent-encoded in a URL.

One of the text rules of ``patterns.py`` (and of collector/scrubbing.py): the name is read
by the key vocabulary of ``keys.py``, and a value is read only after a secret name.
"""

from __future__ import annotations

import re

from .keys import SECRET_PHRASES, is_secret_key
from .tokens import REDACTED

# name=value, name: value, "name": "value", ?name=value& whose name is a secret key by the
# key vocabulary (keys.py); an Authorization header's scheme stays readable. The scan matches the
# name and separator only, so a pair whose name is not secret ("url=https://x/?token=abc")
# does not hide the pairs inside its value; the value is read after a secret name.
PAIR = re.compile(
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
_SPACED_NAMES = (*(phrase for phrase in SECRET_PHRASES if phrase[0] != "pass"), ("pin", "code"))
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


def mask_pairs(text: str) -> str:
    parts: list[str] = []
    done = 0
    for match in PAIR.finditer(text):
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
ENCODED_PAIR = re.compile(
    r"(?:(?<=[%5]3[Ff])|(?<=[%5]26)|(?<=[%5]2[Cc])|(?<![\w.\-%]))([\w.\-]{1,80})"
    r"%(?:25){0,3}3[DdAa]"
    r"((?:[^\s,;&)}\"'\x00%]|%(?!(?:25){0,3}2[6Cc])){1,4096})"
)


def encoded_pair_sub(match: re.Match[str]) -> str:
    if not is_secret_key(match.group(1)) or match.group(2) == REDACTED:
        return match.group(0)
    return match.group(0)[: match.start(2) - match.start()] + REDACTED
