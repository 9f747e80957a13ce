"""Top-level routes: the API under /api/v1/, the dashboards, accounts and admin."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from dashboard.urls import account_urlpatterns
from flusso_site import errors

urlpatterns = [
    path("api/v1/", include("collector.urls")),
    path("api/v1/", include("dashboard.api_urls")),  # the read API (stats, a log)
    path("admin/", admin.site.urls),
    # Our replacements of some allauth pages first (the closed e-mail page, a reset page
    # that knows whether mail is configured), then allauth's.
    path("accounts/", include(account_urlpatterns)),
    path("accounts/", include("allauth.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False)),
    # Browsers ask for /favicon.ico on pages that name none (admin, Swagger UI).
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"))),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
