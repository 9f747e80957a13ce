"""The headers every response carries: CSP, Permissions-Policy, and no-store on client data."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import plotly
import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import URLPattern, reverse

from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard import urls as dashboard_urls
from dashboard.models import SavedView
from dashboard.monitors.models import NotificationSettings
from dashboard.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def log():
    return WorkflowLogFactory(client=ClientFactory(slug="acme", name="Acme Plumbing"))


@pytest.fixture
def http_user(log) -> HttpClient:
    http = HttpClient()
    http.force_login(MembershipFactory(client=log.client, user__email="ann@acme.example").user)
    return http


@pytest.fixture
def http_owner(db) -> HttpClient:
    http = HttpClient()
    http.force_login(UserFactory(email="owner@flusso.example", is_staff=True))
    return http


def cache_directives(response) -> set[str]:
    return {d.strip().lower() for d in response.get("Cache-Control", "").split(",") if d.strip()}


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


# The actions (POST only) are sent a POST they would accept, and answer with a redirect
# to their page; so does the review queue's "next run".
POST_ONLY = {
    "alert_acknowledge",
    "alert_resolve",
    "log_verdict",
    "saved_view_create",
    "saved_view_delete",
}
POST_DATA = {"log_verdict": {"kind": "correct"}, "saved_view_create": {"name": "Failed runs"}}
REDIRECTS = POST_ONLY | {"review_next"}


def fetch(http: HttpClient, name: str, url: str):
    if name in POST_ONLY:
        return http.post(url, POST_DATA.get(name, {}))
    return http.get(url, follow=name == "home")


def dashboard_routes(log) -> list[tuple[str, str]]:
    """Every route of dashboard/urls.py, reversed for a real client, log, alert and
    unsubscribe token."""
    from dashboard.monitors.tests.factories import AlertFactory

    alert = AlertFactory(monitor__client=log.client)
    view = SavedView.objects.create(client=log.client, name="Escalations", query="status=ESCALATED")
    reader = UserFactory(email="reader@example.com")
    token = NotificationSettings.objects.get_or_create(user=reader)[0].unsubscribe_token
    values = {
        "client_slug": log.client.slug,
        "log_id": log.log_id,
        "alert_id": alert.pk,
        "view_id": view.pk,
        "token": token,
    }
    routes = []
    for pattern in dashboard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {name: values[name] for name in pattern.pattern.converters}
        routes.append((pattern.name, reverse(f"dashboard:{pattern.name}", kwargs=kwargs)))
    return routes


def test_the_walk_covers_every_dashboard_route_and_the_exports(log):
    names = {name for name, _ in dashboard_routes(log)}
    assert names == {p.name for p in dashboard_urls.urlpatterns}
    assert {"logs_csv", "logs_json", "log_raw", "log", "logs", "client", "home"} <= names


# Pages only the owner may open (404 to a client user).
OWNER_PAGES = {"owner_report", "owner_compare"}


def test_every_dashboard_page_and_export_is_private_and_never_stored(http_user, http_owner, log):
    for name, url in dashboard_routes(log):
        http = http_owner if name in OWNER_PAGES else http_user
        response = fetch(http, name, url)
        assert response.status_code == (302 if name in REDIRECTS else 200), url
        assert {"private", "no-store"} <= cache_directives(response), url


def test_the_owner_overview_is_private_and_never_stored(http_owner, log):
    response = http_owner.get(reverse("dashboard:home"))
    assert response.status_code == 200
    assert 'data-testid="overview-table"' in response.content.decode()
    assert {"private", "no-store"} <= cache_directives(response)


@pytest.mark.parametrize(
    "url_name", ["account_change_password", "mfa_index", "account_reauthenticate", "account_logout"]
)
def test_account_pages_are_private_and_never_stored(http_user, url_name):
    response = http_user.get(reverse(url_name))
    assert response.status_code == 200
    assert {"private", "no-store"} <= cache_directives(response)


def test_a_cache_control_a_view_chose_itself_is_kept(db):
    """allauth's login (never_cache) keeps its own header; ours is only the default."""
    response = HttpClient().get(reverse("account_login"))
    assert "must-revalidate" in cache_directives(response)


def test_the_api_answers_are_not_stored_either(db):
    response = HttpClient().get(reverse("collector:health"))
    assert {"private", "no-store"} <= cache_directives(response)


# Content-Security-Policy ------------------------------------------------------------------


def assert_strict_csp(response) -> None:
    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for values in directives.values():
        assert "'unsafe-inline'" not in values and "'unsafe-eval'" not in values


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\s(?:src=|type=\"application/json\"))[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def assert_no_inline_code(html: str) -> None:
    """What the policy would block: scripts that are neither files nor JSON data, and
    on* handler attributes."""
    assert INLINE_SCRIPT.findall(html) == []
    assert INLINE_HANDLER.findall(html) == []


def test_every_dashboard_page_sends_the_strict_policy_and_holds_no_inline_code(http_user, log):
    for name, url in dashboard_routes(log):
        response = fetch(http_user, name, url)
        assert_strict_csp(response)
        if response["Content-Type"].startswith("text/html"):
            assert_no_inline_code(response.content.decode())


def test_the_client_dashboard_draws_its_charts_from_json_blocks_and_static_scripts(http_user, log):
    html = http_user.get(reverse("dashboard:client", args=[log.client.slug])).content.decode()
    assert_no_inline_code(html)
    assert html.count('type="application/json" data-plotly-figure=') == 5
    # Every script a file. plotly.js is deferred: it downloads while the page is parsed
    # and runs after it, so it never holds the first paint; charts.js then draws. The
    # handlers (flusso.js, at the end of <body>) are bound before either runs.
    scripts = re.findall(r"<script src=\"([^\"]+)\"( defer)?></script>", html)
    assert scripts == [
        ("/static/vendor/plotly/plotly.min.js", " defer"),
        ("/static/js/charts.js", " defer"),
        ("/static/js/flusso.js", ""),
    ]


@pytest.mark.parametrize("url_name", ["account_login", "account_reset_password"])
def test_login_pages_send_the_strict_policy_and_hold_no_inline_code(db, url_name):
    response = HttpClient().get(reverse(url_name))
    assert_strict_csp(response)
    assert_no_inline_code(response.content.decode())


def test_admin_and_the_api_docs_send_the_strict_policy_and_hold_no_inline_code(http_owner):
    for url in (reverse("admin:index"), reverse("collector:docs")):
        response = http_owner.get(url)
        assert response.status_code == 200
        assert_strict_csp(response)
        assert_no_inline_code(response.content.decode())
    assert "<style" not in http_owner.get(reverse("collector:docs")).content.decode()


def test_the_api_docs_init_script_is_served_as_javascript(http_owner):
    response = http_owner.get(reverse("collector:docs") + "?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in response.content.decode()


# Permissions-Policy -----------------------------------------------------------------------


DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb")


def assert_permissions_policy(response) -> None:
    policy = {
        name.strip(): value.strip()
        for name, value in (p.split("=", 1) for p in response["Permissions-Policy"].split(","))
    }
    for feature in DENIED_FEATURES:
        assert policy[feature] == "()", feature


def test_every_kind_of_response_denies_the_device_features(http_user, log):
    assert_permissions_policy(http_user.get(reverse("dashboard:logs", args=[log.client.slug])))
    assert_permissions_policy(HttpClient().get(reverse("account_login")))
    assert_permissions_policy(HttpClient().get(reverse("collector:health")))
    assert_permissions_policy(HttpClient().get("/api/v1/nope"))
    assert_permissions_policy(http_user.get("/dashboard/acme/logs/not-a-uuid/"))
    assert_permissions_policy(HttpClient().post(reverse("collector:log-ingest"), {}))


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_two_style_hashes_are_the_styles_the_installed_plotly_js_appends():
    """plotly.js appends an empty <style> it fills through the CSSOM, and maplibre's fixed
    stylesheet; the policy allows those two texts and nothing else inline."""
    bundle = (Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js").read_text(
        encoding="utf-8"
    )
    appended = re.search(r"e\.id=\"[0-9a-f]{64}\",e\.textContent='([^'\\]*)'", bundle)
    assert appended and ".maplibregl-map" in appended[1]
    assert settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"] == [
        "'self'",
        csp_hash(""),
        csp_hash(appended[1]),
    ]
