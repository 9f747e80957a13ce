"""URL converters of the monitors' routes."""

from __future__ import annotations

import re

# What an unsubscribe token can look like: secrets.token_urlsafe's alphabet, at most the
# field's 64 characters (NotificationSettings.unsubscribe_token). Anything else (a NUL
# byte, which PostgreSQL refuses in a text query, a slash, a space) cannot be a token, so
# it is refused before any query, as a 404.
UNSUBSCRIBE_SEGMENT_REGEX = r"[A-Za-z0-9_-]{1,64}"
_TOKEN = re.compile(UNSUBSCRIBE_SEGMENT_REGEX)


def is_unsubscribe_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


class UnsubscribeTokenConverter:
    """``<unsubscribe_token:token>``: a path segment shaped like a token, or no match."""

    regex = UNSUBSCRIBE_SEGMENT_REGEX

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
