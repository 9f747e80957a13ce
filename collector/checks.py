"""System checks for the collector's production configuration (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache


@checks.register(checks.Tags.caches, deploy=True)
def check_shared_counters(**kwargs: Any) -> list[checks.CheckMessage]:
    """The per-client concurrency limit and the rate limits count in the cache: with the
    in-process default each worker counts alone, so one client may have the limit's worth
    of requests in flight in every worker process."""
    if settings.INGEST_MAX_CONCURRENT_PER_CLIENT <= 0 or not isinstance(
        caches["default"], LocMemCache
    ):
        return []
    return [
        checks.Warning(
            "The per-client concurrency and rate limits are counted per worker process.",
            hint="Set REDIS_URL so every worker shares one count (README, Fairness).",
            id="flusso.W002",
        )
    ]
