"""Numbers that are personal data in text: card numbers (Luhn) and IBANs (mod 97)."""

from __future__ import annotations

import re

from .tokens import CARD_MASK, IBAN_MASK


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


def card_sub(match: re.Match[str]) -> str:
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


def iban_sub(match: re.Match[str]) -> str:
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
