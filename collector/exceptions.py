"""The API's one exception handler: every error becomes ``{"error": {...}}``.

DRF's own errors (authentication, throttling, parsing, validation, 404, 405, 415), the
application's errors (``ApplicationError`` subclasses, whose status and headers are chosen
here and only here, by class), Django's Http404 and PermissionDenied, an unavailable
database (503, so clients retry) and any unexpected failure (500, logged) all answer in
the same shape, never as HTML.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from collector.errors import ClientMismatch, PayloadTooLarge
from collector.fairness import RETRY_AFTER_SECONDS, TooManyConcurrentRequests
from flusso_site.errors import ApplicationError, NotFound, NotPermitted, error_body

logger = logging.getLogger(__name__)

# How long a client should wait before retrying when the database is unavailable.
DATABASE_RETRY_AFTER_SECONDS = 5

# What each application error means in HTTP; the first class of an error's MRO listed here
# decides, and an error of no listed class is the caller's mistake: 400.
STATUS_BY_ERROR: dict[type[ApplicationError], int] = {
    ClientMismatch: 403,
    PayloadTooLarge: 413,
    TooManyConcurrentRequests: 429,
    NotFound: 404,
    NotPermitted: 403,
}
# Errors a client should retry, and after how many seconds.
RETRY_AFTER_BY_ERROR: dict[type[ApplicationError], int] = {
    TooManyConcurrentRequests: RETRY_AFTER_SECONDS,
}

_MESSAGES = {
    "invalid": "The request has invalid fields.",
    "not_authenticated": "An API key is required: 'Authorization: Bearer <key>'.",
}


def _first_code(codes: Any) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and codes:
        return _first_code(next(iter(codes.values())))
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    return "error"


def _by_class(table: dict[type[ApplicationError], int], exc: ApplicationError) -> int | None:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def error_status(exc: ApplicationError) -> int:
    """The HTTP status an application error answers with."""
    return _by_class(STATUS_BY_ERROR, exc) or 400


def error_headers(exc: ApplicationError) -> dict[str, str]:
    """The headers an application error answers with (Retry-After, for some)."""
    retry_after = _by_class(RETRY_AFTER_BY_ERROR, exc)
    return {} if retry_after is None else {"Retry-After": str(retry_after)}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, ApplicationError):
        return Response(
            error_body(exc.code, exc.message, exc.fields),
            status=error_status(exc),
            headers=error_headers(exc),
        )
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("Database unavailable: %s", type(exc).__name__)
        return Response(
            error_body("database_unavailable", "The database is unavailable; retry later."),
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.error(
            "Unhandled %s in %s",
            type(exc).__name__,
            type(view).__name__,
            exc_info=not isinstance(exc, DatabaseError),
        )
        return Response(
            error_body("server_error", "The server failed; nothing was stored."), status=500
        )

    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = _MESSAGES["invalid"]
    else:
        detail = getattr(exc, "detail", None)
        code = (
            _first_code(exc.get_codes())
            if isinstance(exc, exceptions.APIException)
            else ("not_found" if response.status_code == 404 else "permission_denied")
        )
        fields = {}
        message = _MESSAGES.get(code) or str(detail or exc)
    response.data = error_body(code, message, fields)
    return response
