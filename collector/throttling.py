"""Per-key rate limit: a fixed-window counter in the cache.

DRF's SimpleRateThrottle keeps a list of every request time per key and rewrites it on
each request; at thousands of requests a minute that list is the hot path's biggest cost.
A counter per window is one atomic increment. The limit is per process when the cache is
per process (the default LocMemCache), so with N gunicorn workers a key may reach N times
the limit; REDIS_URL makes it one count for every worker.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from collector.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView

_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


def rate_parse(rate: str) -> tuple[int, int]:
    """'6000/minute' -> (6000, 60)."""
    count, _, period = rate.partition("/")
    try:
        return int(count), _PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"INGEST_RATE_LIMIT must look like '6000/minute', not {rate!r}."
        ) from None


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        limit, period = rate_parse(settings.INGEST_RATE_LIMIT)
        now = time.time()
        window = int(now // period)
        cache_key = f"throttle:apikey:{api_key.prefix}:{window}"
        # add() is a no-op when the window's counter exists; incr() is atomic.
        cache.add(cache_key, 0, timeout=period + 1)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # evicted between add() and incr()
            cache.set(cache_key, 1, timeout=period + 1)
            count = 1
        if count > limit:
            self._wait = period - (now % period)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
