"""The application's one error type, and Django's error pages.

Services raise ``ApplicationError`` for anything a caller did wrong; the API's exception
handler (``collector.exceptions``) turns it, and every other error, into the single JSON
error shape. Django's own 400/404/500 pages answer in that shape too for API paths, so a
client of the API never receives HTML.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


class ApplicationError(Exception):
    """An error the caller can act on: it carries the HTTP status, a stable code and details."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        status: int = 400,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.fields = fields or {}
        self.headers = headers or {}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's single error shape."""
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body("not_found", f"No API endpoint at {request.path}."), status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "The server failed; the request was not stored."),
            status=500,
        )
    return defaults.server_error(request)
