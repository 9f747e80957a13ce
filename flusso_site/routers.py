"""Reads from a streaming replica, writes to the primary (DATABASE_REPLICA_URL).

Dashboard pages and exports run inside ``replica_reads``: every ORM read in them goes to
the replica alias. Everything else (ingestion, logins, admin, the pages' own sessions and
the middleware before them) reads and writes the primary. A user who has just written
(any request other than GET/HEAD/OPTIONS) reads the primary for REPLICA_STICKY_SECONDS,
so a page shows that user's own write even while the replica lags. When the replica does
not answer, the page is served from the primary instead.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

REPLICA = "replica"
STICKY_COOKIE = "flusso_read_primary"
_reading_replica: ContextVar[bool] = ContextVar("flusso_reading_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_database() -> str:
    """The alias reads go to right now."""
    return REPLICA if _reading_replica.get() and replica_configured() else "default"


class ReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return REPLICA if _reading_replica.get() and replica_configured() else None

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica is a copy of the primary: rows relate across them

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "default"  # the replica follows the primary's schema by replication


@contextlib.contextmanager
def reading_from_replica() -> Iterator[None]:
    token = _reading_replica.set(True)
    try:
        yield
    finally:
        _reading_replica.reset(token)


@contextlib.contextmanager
def reading_from_primary() -> Iterator[None]:
    """Inside a page that reads the replica: an action's reads (a row locked before it is
    changed) go to the primary, where its writes go."""
    token = _reading_replica.set(False)
    try:
        yield
    finally:
        _reading_replica.reset(token)


def _wants_primary(request: HttpRequest) -> bool:
    until = request.COOKIES.get(STICKY_COOKIE, "")
    return until.isdigit() and int(until) > time.time()


def replica_reads(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run a read-only page's queries on the replica (when one is configured)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not replica_configured() or _wants_primary(request):
            return view(request, *args, **kwargs)
        try:
            with reading_from_replica():
                return view(request, *args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            # A page must not fail because its copy of the data is away.
            logger.warning("Replica unavailable (%s); reading the primary", type(exc).__name__)
            return view(request, *args, **kwargs)

    wrapped.reads_replica = True  # type: ignore[attr-defined]
    return wrapped


class PrimaryAfterWriteMiddleware:
    """After a user's write, their next pages read the primary for a few seconds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        writes = request.method not in ("GET", "HEAD", "OPTIONS")
        own_write = writes and response.status_code < 400
        if own_write and replica_configured() and not request.path.startswith("/api/"):
            seconds = settings.REPLICA_STICKY_SECONDS
            response.set_cookie(
                STICKY_COOKIE,
                str(int(time.time()) + seconds),
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response
