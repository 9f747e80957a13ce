"""Every page in the user's own time zone."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from dashboard.selectors.preferences import user_time_zone


class UserTimeZoneMiddleware:
    """Activates the logged-in user's time zone (their account setting, else TIME_ZONE)
    for the request: templates format times in it, and the dashboard reads its dates and
    day buckets in it (the "current time zone" of docs/dashboard.md). One indexed query
    per authenticated request; anonymous requests use TIME_ZONE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        timezone.activate(user_time_zone(user=user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
