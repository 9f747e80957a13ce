"""Per-client fairness: a bounded number of one client's API requests served at once.

The rate limit (``collector.throttling``) bounds how many requests a key sends a minute,
not how many it has in flight: one client sending 100 large batches at once, well within
its rate, held every thread of every worker, and the health check, other clients'
ingestion and the dashboards waited about 30 s. Here each client has
``INGEST_MAX_CONCURRENT_PER_CLIENT`` slots; a request of that client takes one once its key
is authenticated and gives it back when its response is ready, whatever happened in
between. Without a free slot it is answered 429 with Retry-After, which the shipper
honours (it retries the batch later; nothing is lost).

A slot is a cache key per client and slot number, taken with ``cache.add`` (atomic, on
Redis a ``SET NX``) and expiring after ``INGEST_SLOT_TTL_SECONDS``, so a worker killed
mid-request leaks its slot for that long at most. With REDIS_URL the slots are shared by
every worker; with the default in-process cache each worker process counts alone, so a
client may have that many requests in flight in each process (README).

``ClientSlotMiddleware`` gives every request a holder and releases what it holds when the
response is ready, also when a view raised; ``ClientConcurrencyThrottle`` (one of the API's
throttle classes, so it runs right after authentication) takes the slot.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import BaseCache, cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from collector.models import ApiKey
from flusso_site.errors import ApplicationError

if TYPE_CHECKING:
    from rest_framework.views import APIView

# Seconds a refused client waits before retrying: an ingestion request takes well under a
# second, so a slot is usually free again by then.
RETRY_AFTER_SECONDS = 1
_HOLDER_ATTRIBUTE = "_flusso_client_slots"


class TooManyConcurrentRequests(ApplicationError):
    def __init__(self, *, limit: int) -> None:
        super().__init__(
            f"At most {limit} requests of this client are served at once; retry after "
            f"{RETRY_AFTER_SECONDS} s.",
            code="too_many_concurrent_requests",
        )


@dataclass(frozen=True)
class Slot:
    key: str
    token: str


class ClientSlots:
    """``limit`` slots per holder (a client), kept in ``cache``."""

    def __init__(self, *, cache: BaseCache, limit: int, ttl: int, prefix: str = "slots") -> None:
        self.cache = cache
        self.limit = limit
        self.ttl = ttl
        self.prefix = prefix

    def _keys(self, holder: str) -> list[str]:
        return [f"{self.prefix}:{holder}:{number}" for number in range(self.limit)]

    def acquire(self, holder: str) -> Slot | None:
        """A free slot of ``holder``, now taken; None when all are taken. Two round trips
        to the cache when one is free, one when none is."""
        keys = self._keys(holder)
        taken = self.cache.get_many(keys)
        free = [key for key in keys if key not in taken]
        # Concurrent requests that saw the same free slots try them in different orders.
        random.shuffle(free)
        token = secrets.token_hex(8)
        for key in free:
            if self.cache.add(key, token, timeout=self.ttl):
                return Slot(key=key, token=token)
        return None

    def release(self, slot: Slot) -> None:
        # Only our own: past its TTL the slot may have been taken by another request. (The
        # check and the delete are two steps; they can only race for a request that
        # outlived the TTL, and then a client has one request more in flight for a while.)
        if self.cache.get(slot.key) == slot.token:
            self.cache.delete(slot.key)

    def in_use(self, holder: str) -> int:
        return len(self.cache.get_many(self._keys(holder)))


def client_slots() -> ClientSlots:
    return ClientSlots(
        cache=cache,
        limit=settings.INGEST_MAX_CONCURRENT_PER_CLIENT,
        ttl=settings.INGEST_SLOT_TTL_SECONDS,
        prefix="fairness:client",
    )


class SlotHolder:
    """The slots one request has taken (at most one), released together."""

    def __init__(self, slots: ClientSlots) -> None:
        self.slots = slots
        self.held: list[Slot] = []

    def take(self, holder: str) -> bool:
        slot = self.slots.acquire(holder)
        if slot is None:
            return False
        self.held.append(slot)
        return True

    def release(self) -> None:
        while self.held:
            self.slots.release(self.held.pop())


class ClientSlotMiddleware:
    """Releases the client slot a request took, on every way out of the view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        holder = SlotHolder(client_slots())
        setattr(request, _HOLDER_ATTRIBUTE, holder)
        try:
            return self.get_response(request)
        finally:
            holder.release()


class ClientConcurrencyThrottle(BaseThrottle):
    """Takes one of the client's slots for an API-key request, or refuses it (429)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        limit = settings.INGEST_MAX_CONCURRENT_PER_CLIENT
        api_key = request.auth
        if not limit or not isinstance(api_key, ApiKey):
            return True
        holder = getattr(request._request, _HOLDER_ATTRIBUTE, None)
        if holder is None:
            # Without the middleware nothing would ever give the slot back.
            raise ImproperlyConfigured(
                "ClientConcurrencyThrottle needs collector.fairness.ClientSlotMiddleware "
                "in MIDDLEWARE."
            )
        if not holder.take(str(api_key.client_id)):
            raise TooManyConcurrentRequests(limit=limit)
        return True
