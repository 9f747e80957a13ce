"""Logins through allauth: e-mail and password, no sign-up, reset by e-mail, rate limits."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client as HttpClient

from dashboard.tests.factories import PASSWORD


def test_sign_up_is_closed(db):
    response = HttpClient().get("/accounts/signup/")
    assert "Sign-up is closed" in response.content.decode()
    response = HttpClient().post(
        "/accounts/signup/",
        {"email": "eve@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(email="eve@example.com").exists()


def test_login_page_uses_our_layout_and_offers_no_sign_up(db):
    html = HttpClient().get("/accounts/login/").content.decode()
    assert "/static/css/flusso.css" in html
    assert "Log in to Flusso" in html
    assert "/accounts/signup/" not in html


def test_login_with_email_and_password_then_logout(user_a):
    http = HttpClient()
    response = http.post("/accounts/login/", {"login": user_a.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert http.get("/dashboard/").status_code == 302  # to the one client's dashboard
    response = http.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert http.get("/dashboard/acme/").status_code == 302


def test_a_wrong_password_is_refused(user_a):
    response = HttpClient().post("/accounts/login/", {"login": user_a.email, "password": "no"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()


def test_failed_logins_are_rate_limited_per_account(user_a):
    """After 5 failures for an account, even the right password waits (allauth's limit)."""
    http = HttpClient()
    for _ in range(5):
        http.post("/accounts/login/", {"login": user_a.email, "password": "wrong"})
    response = http.post("/accounts/login/", {"login": user_a.email, "password": PASSWORD})
    assert response.status_code != 302
    assert "Too many failed login attempts" in response.content.decode()
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == "10/m/ip,5/5m/key"


def test_password_reset_sends_a_link_by_email_that_sets_a_new_password(user_a):
    http = HttpClient()
    http.post("/accounts/password/reset/", {"email": user_a.email})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link
    response = http.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link.group(1)
    new = "an-entirely-new-passphrase"
    response = http.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    user_a.refresh_from_db()
    assert user_a.check_password(new)


def test_two_factor_setup_is_available_after_logging_in(user_a):
    http = HttpClient()
    http.post("/accounts/login/", {"login": user_a.email, "password": PASSWORD})
    assert "Authenticator" in http.get("/accounts/2fa/").content.decode()
    response = http.get("/accounts/2fa/totp/activate/")
    if response.status_code == 302:  # allauth asks for the password again first
        assert response["Location"].startswith("/accounts/reauthenticate/")
        http.post(response["Location"], {"password": PASSWORD})
        response = http.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    assert "otpauth://" in response.content.decode() or "svg" in response.content.decode()


@pytest.mark.parametrize("path", ["/accounts/password/reset/", "/accounts/login/"])
def test_account_pages_render_in_our_layout(db, path):
    html = HttpClient().get(path).content.decode()
    assert 'class="card auth"' in html


def test_password_reset_does_not_reveal_whether_an_account_exists(user_a):
    """Known and unknown addresses get the same answer; only the account holder gets mail.

    Nothing is mailed to an unknown address: allauth's mail for it would invite the reader
    to a sign-up that is closed, and would let anyone make the server mail any address.
    """
    known = HttpClient().post("/accounts/password/reset/", {"email": user_a.email})
    unknown = HttpClient().post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [m.to for m in mail.outbox] == [[user_a.email]]


def test_logout_needs_a_post(http_a):
    """A GET (a link or an image on another site) must not log the user out."""
    assert http_a.get("/accounts/logout/").status_code == 200
    assert http_a.get("/dashboard/acme/").status_code == 200
    http_a.post("/accounts/logout/")
    assert http_a.get("/dashboard/acme/").status_code == 302
