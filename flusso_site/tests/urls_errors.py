"""The site's URLconf plus views that fail, for the error-page tests."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from flusso_site.urls import handler400, handler403, handler404, handler500  # noqa: F401
from flusso_site.urls import urlpatterns as site_urlpatterns

SECRET_DETAIL = "boom-detail-7f3a"


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_DETAIL)


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied(SECRET_DETAIL)


class BoomApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)


urlpatterns = [
    path("boom/", boom),
    path("forbidden/", forbidden),
    path("api/v1/boom", BoomApi.as_view()),
    path("api/v1/plain-boom", boom),
    path("api/v1/forbidden", forbidden),
    *site_urlpatterns,
]
