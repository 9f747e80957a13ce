"""Tenant isolation: every client URL resolves the client for the user, or answers 404."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import reverse

from collector.tests.factories import WorkflowLogFactory
from dashboard.tests.factories import MembershipFactory, UserFactory

CLIENT_URLS = ["client", "logs", "logs_csv", "logs_json", "log", "log_raw"]


@pytest.fixture
def log_b(client_b):
    return WorkflowLogFactory(client=client_b)


@pytest.fixture
def log_a(client_a):
    return WorkflowLogFactory(client=client_a)


def url_for(name: str, client, log) -> str:
    if name in ("log", "log_raw"):
        return reverse(f"dashboard:{name}", args=[client.slug, log.log_id])
    return reverse(f"dashboard:{name}", args=[client.slug])


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_a_user_of_client_a_gets_404_on_every_url_of_client_b(http_a, client_b, log_b, name):
    response = http_a.get(url_for(name, client_b, log_b))
    assert response.status_code == 404


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_a_user_of_client_a_reaches_every_url_of_client_a(http_a, client_a, log_a, name):
    response = http_a.get(url_for(name, client_a, log_a))
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["log", "log_raw"])
def test_a_log_of_client_b_is_404_under_client_a_slug(http_a, client_a, log_b, name):
    """The log id alone grants nothing: the log must belong to the client in the URL."""
    response = http_a.get(reverse(f"dashboard:{name}", args=[client_a.slug, log_b.log_id]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_an_unknown_client_is_404_like_a_forbidden_one(http_a, log_a, name):
    class Missing:
        slug = "no-such-client"

    assert http_a.get(url_for(name, Missing, log_a)).status_code == 404


@pytest.mark.parametrize("name", [*CLIENT_URLS, "home"])
def test_anonymous_users_are_sent_to_the_login_page(client_a, log_a, name):
    url = reverse("dashboard:home") if name == "home" else url_for(name, client_a, log_a)
    response = HttpClient().get(url)
    assert response.status_code == 302
    login = reverse(settings.LOGIN_URL)
    assert response["Location"].startswith(login)
    assert "next=" in response["Location"]


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_staff_see_every_client(http_owner, client_a, client_b, log_a, log_b, name):
    for client, log in ((client_a, log_a), (client_b, log_b)):
        response = http_owner.get(url_for(name, client, log))
        assert response.status_code == 200
        if response.streaming:
            # Downloaded, as a browser would: the export's cursor closes with it.
            b"".join(response.streaming_content)


def test_a_deactivated_member_is_logged_out(client_a, log_a):
    user = MembershipFactory(client=client_a).user
    http = HttpClient()
    http.force_login(user)
    user.is_active = False
    user.save()
    response = http.get(url_for("client", client_a, log_a))
    assert response.status_code == 302


def test_a_user_without_membership_sees_no_client_page(client_a, log_a):
    http = HttpClient()
    http.force_login(UserFactory())
    assert http.get(url_for("client", client_a, log_a)).status_code == 404
    response = http.get(reverse("dashboard:home"))
    assert response.status_code == 200
    assert b"not linked to any client" in response.content


def test_a_cursor_from_client_b_shows_only_client_a_logs(client_a, client_b):
    """A cursor only positions a page; the rows are always the URL's client's."""
    from dashboard.selectors import LogFilters, log_page

    a_logs = {str(WorkflowLogFactory(client=client_a).log_id) for _ in range(3)}
    b_logs = {str(WorkflowLogFactory(client=client_b).log_id) for _ in range(3)}
    for sort in ("-time", "time"):
        b_page = log_page(client=client_b, filters=LogFilters(sort=sort), size=1)
        http = HttpClient()
        http.force_login(MembershipFactory(client=client_a).user)
        response = http.get(
            reverse("dashboard:logs", args=[client_a.slug]),
            {"cursor": b_page.next_cursor, "sort": sort},
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert set(re.findall(r'<tr data-log="([0-9a-f-]+)"', html)) <= a_logs
        assert not any(log_id in html for log_id in b_logs)
