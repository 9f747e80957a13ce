"""Branded error pages that show nothing internal; the API's JSON errors even with DEBUG on."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError, connection
from django.test import Client as HttpClient
from django.test import override_settings

from dashboard.tests.factories import UserFactory
from flusso_site.tests.urls_errors import SECRET_DETAIL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("flusso_site.tests.urls_errors")]

INTERNALS = (SECRET_DETAIL, "Traceback", "RuntimeError", "SECRET_KEY", "settings")


class DatabaseDown:
    """An execute wrapper that fails every query, as a database that went away."""

    def __init__(self) -> None:
        self.refused = 0

    def __call__(self, execute, sql, params, many, context):
        self.refused += 1
        raise OperationalError("the database is down")


def quiet_client(**kwargs) -> HttpClient:
    """A test client that answers a failing view's 500 like a server, instead of raising."""
    http = HttpClient(**kwargs)
    http.raise_request_exception = False
    return http


def assert_branded(response, status: int, heading: str) -> str:
    html = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert 'data-testid="error-page"' in html
    assert f"Error {status}" in html and heading in html
    assert 'class="brand"' in html and "/static/css/flusso.css" in html
    for internal in INTERNALS:
        assert internal not in html
    return html


def test_a_failing_view_answers_the_branded_500_page_without_internals():
    assert_branded(quiet_client().get("/boom/"), 500, "Something went wrong on our side")


def test_the_500_page_renders_while_the_database_is_down():
    """A logged-in user's page with every query failing: the session cannot even be read,
    and the 500 page (rendered without a request) needs no query to be drawn."""
    http = quiet_client()
    http.force_login(UserFactory())
    down = DatabaseDown()
    with connection.execute_wrapper(down):
        response = http.get("/dashboard/")
        refused_before_the_page = down.refused
        assert_branded(response, 500, "Something went wrong on our side")
        assert refused_before_the_page >= 1  # the database really was needed, and down
        down.refused = 0
        assert_branded(http.get("/boom/"), 500, "Something went wrong on our side")


def test_a_missing_page_is_the_branded_404(db):
    http = HttpClient()
    http.force_login(UserFactory())
    assert_branded(http.get("/dashboard/no-such-client/"), 404, "There is no such page")
    assert_branded(HttpClient().get("/nowhere/"), 404, "There is no such page")


def test_a_forbidden_page_is_the_branded_403():
    assert_branded(HttpClient().get("/forbidden/"), 403, "You may not open this page")


def test_a_failed_csrf_check_is_the_branded_403():
    response = HttpClient(enforce_csrf_checks=True).post(
        "/accounts/login/", {"login": "a@b.example", "password": "x"}
    )
    assert_branded(response, 403, "This form could not be accepted")


def api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert SECRET_DETAIL not in response.content.decode()
    return body


@pytest.mark.parametrize("debug", [False, True])
def test_api_errors_are_json_with_debug_on_or_off(debug):
    with override_settings(DEBUG=debug):
        body = api_error(quiet_client().get("/api/v1/nope"), 404, "not_found")
        assert body["error"]["message"] == "No API endpoint at /api/v1/nope."
        api_error(quiet_client().get("/api/v1/boom"), 500, "server_error")
        api_error(quiet_client().get("/api/v1/plain-boom"), 500, "server_error")
        api_error(quiet_client().get("/api/v1/forbidden"), 403, "permission_denied")


def test_an_api_method_not_allowed_keeps_its_json_and_allow_header():
    response = HttpClient().delete("/api/v1/health")
    api_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
