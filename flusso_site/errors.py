"""The application's one error type, and Django's error pages.

Services raise subclasses of ``ApplicationError`` named for what happened (a client
mismatch, a body too large, a log not found); the API's exception handler
(``collector.exceptions``) alone says what each means in HTTP (status, headers) and turns
it, and every other error, into the single JSON error shape. Django's own 400/404/500
pages answer in that shape too for API paths, so a client of the API never receives HTML.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


class ApplicationError(Exception):
    """An error the caller can act on: a stable code, a message and field details.

    What it means in HTTP is not its business: the API's exception handler maps the
    error's class to a status (400 for any it does not name).
    """

    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.fields = fields or {}


class NotFound(ApplicationError):
    """What was asked for does not exist, or not for this caller (the same answer)."""

    code = "not_found"


class NotPermitted(ApplicationError):
    """The caller may not do this."""

    code = "permission_denied"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's single error shape."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


# The code and message an API client reads for an HTTP error Django (not DRF) produced.
_API_ERRORS = {
    400: ("bad_request", "The request could not be read."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", "No API endpoint at {path}."),
    405: ("method_not_allowed", "This method is not allowed at {path}."),
    413: ("payload_too_large", "The request body is too large."),
    500: ("server_error", "The server failed; the request was not stored."),
}


def api_error_for_status(request: HttpRequest, status: int) -> dict[str, Any]:
    """The API's error body for a status, naming no more than the path."""
    code, message = _API_ERRORS.get(status, ("error", "The request failed."))
    return error_body(code, message.format(path=request.path))


def _api_error(request: HttpRequest, status: int) -> JsonResponse:
    return JsonResponse(api_error_for_status(request, status), status=status)


# The branded pages (templates/400.html ... 500.html) extend our layout. Django's defaults
# render them; the 500 one without a request, so no context processor (the user, the
# session) can touch a database that may be the reason for the failure.


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _api_error(request, 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _api_error(request, 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return _api_error(request, 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _api_error(request, 500)
    return defaults.server_error(request)
