"""Response headers and error shapes that every dynamic response shares.

Static files never reach these: WhiteNoise, earlier in ``MIDDLEWARE``, answers them
itself, with its long cache headers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.cache import patch_cache_control

from flusso_site.errors import API_PREFIX, api_error_for_status

Handler = Callable[[HttpRequest], HttpResponseBase]


class NoStoreMiddleware:
    """``Cache-Control: private, no-store`` on every response that did not choose its own.

    Every dynamic page, export and account page shows one client's data or a user's
    account, so no browser or shared cache may keep it (a shared computer's back button,
    a proxy's disk). Denying by default means a new page cannot forget it; a view that
    truly serves something cacheable sets its own ``Cache-Control``, which is kept.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "Cache-Control" not in response:
            patch_cache_control(response, private=True, no_store=True)
        return response


class ApiJsonErrorsMiddleware:
    """An error on an ``/api/`` path answers the API's JSON error shape, never HTML.

    The URL handlers (``flusso_site.errors``) already do so when DEBUG is off, and DRF's
    exception handler inside API views always does. What is left is Django's own
    debugging pages with DEBUG on (the technical 404 of an unknown path, the technical
    500 of a failure outside a DRF view, such as in a middleware) and any other HTML
    error a middleware may produce: an API client then still gets JSON it can parse.
    First in ``MIDDLEWARE`` so it sees the answers of every other one.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/")
        ):
            return self._json(request, response)
        return response

    @staticmethod
    def _json(request: HttpRequest, html: HttpResponseBase) -> HttpResponse:
        status = html.status_code
        json = JsonResponse(api_error_for_status(request, status), status=status)
        # Headers that tell the client what to do next survive the change of body.
        for name in ("Retry-After", "Allow", "WWW-Authenticate"):
            if name in html:
                json[name] = html[name]
        return json
