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
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == "5/5m/key"


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


def log_in(http: HttpClient, email: str, password: str = PASSWORD, **headers: str):
    return http.post("/accounts/login/", {"login": email, "password": password}, headers=headers)


# The e-mail management page ------------------------------------------------------------


@pytest.mark.parametrize("who", ["user_a", "owner"])
def test_nobody_can_add_an_email_address_or_make_the_service_mail_one(request, who, owner):
    """It let a client user attach the owner's address, unverified, and mail any address."""
    from allauth.account.models import EmailAddress

    user = request.getfixturevalue(who)
    http = HttpClient()
    assert log_in(http, user.email).status_code == 302
    before = list(EmailAddress.objects.values_list("user_id", "email", "verified"))
    for target in [owner.email, "victim@example.org"]:
        response = http.post("/accounts/email/", {"action_add": "", "email": target})
        assert response.status_code == 403
        assert "managed by your administrator" in response.content.decode()
    response = http.post("/accounts/email/", {"action_send": "", "email": user.email})
    assert response.status_code == 403
    assert list(EmailAddress.objects.values_list("user_id", "email", "verified")) == before
    assert mail.outbox == []
    assert http.get("/accounts/email/").status_code == 403


# Failed logins behind a proxy ----------------------------------------------------------

PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the TLS proxy


def _flood(n: int, **headers: str) -> HttpClient:
    http = HttpClient(**PROXY)
    for i in range(n):
        log_in(http, f"random-{i}@nowhere.example", "guess", **headers)
    return http


def test_a_flood_of_failures_on_unknown_addresses_does_not_lock_out_real_users(user_a, owner):
    """Before, 30 bad logins for random addresses through the proxy locked out everyone."""
    _flood(40)
    assert log_in(HttpClient(**PROXY), owner.email)["Location"] == "/dashboard/"
    assert log_in(HttpClient(**PROXY), user_a.email).status_code == 302


def test_unknown_addresses_are_still_limited_per_ip(db):
    http = _flood(10)
    response = log_in(http, "one-more@nowhere.example", "guess")
    assert "Too many failed login attempts" in response.content.decode()
    other_ip = HttpClient(REMOTE_ADDR="10.0.0.3")
    response = log_in(other_ip, "one-more@nowhere.example", "guess")
    assert "not correct" in response.content.decode()


def test_five_wrong_passwords_lock_that_account_only(user_a, owner):
    http = HttpClient(**PROXY)
    for _ in range(5):
        assert "not correct" in log_in(http, user_a.email, "wrong").content.decode()
    response = log_in(HttpClient(**PROXY), user_a.email)
    assert "Too many failed login attempts" in response.content.decode()
    assert log_in(HttpClient(**PROXY), owner.email).status_code == 302


def test_a_success_does_not_reset_the_accounts_failure_count(user_a):
    """allauth rolls back only the successful attempt's own count (no reset by logging in
    between guesses)."""
    for _ in range(4):
        log_in(HttpClient(), user_a.email, "wrong")
    assert log_in(HttpClient(), user_a.email).status_code == 302
    log_in(HttpClient(), user_a.email, "wrong")
    response = log_in(HttpClient(), user_a.email)
    assert "Too many failed login attempts" in response.content.decode()


def test_with_a_trusted_proxy_the_per_ip_limit_counts_the_address_it_forwarded(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_ADDRESSES = [PROXY["REMOTE_ADDR"]]
    http = _flood(10, **{"X-Forwarded-For": "198.51.100.1"})
    limited = log_in(http, "x@nowhere.example", "g", **{"X-Forwarded-For": "198.51.100.1"})
    assert "Too many failed login attempts" in limited.content.decode()
    # The caller may prepend anything; only the entry our proxy appended counts.
    other = log_in(
        HttpClient(**PROXY),
        "x@nowhere.example",
        "g",
        **{"X-Forwarded-For": "1.1.1.1, 198.51.100.2"},
    )
    assert "not correct" in other.content.decode()


def test_without_a_trusted_proxy_a_forged_forwarded_header_does_not_dodge_the_limit(db):
    for i in range(10):
        log_in(
            HttpClient(**PROXY), f"r{i}@nowhere.example", "g", **{"X-Forwarded-For": f"1.1.1.{i}"}
        )
    response = log_in(
        HttpClient(**PROXY), "y@nowhere.example", "g", **{"X-Forwarded-For": "1.1.1.99"}
    )
    assert "Too many failed login attempts" in response.content.decode()


def test_a_request_that_bypassed_the_proxies_is_not_a_500(user_a, settings):
    """allauth's own parsing raised ImproperlyConfigured (a 500) on a short header."""
    settings.TRUSTED_PROXY_COUNT = 2
    response = log_in(HttpClient(**PROXY), user_a.email, **{"X-Forwarded-For": "198.51.100.1"})
    assert response.status_code == 302


# Two-factor required for staff ---------------------------------------------------------


def _activate_totp(user) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())


@pytest.mark.parametrize(
    "path", ["/dashboard/", "/dashboard/acme/", "/admin/", "/admin/collector/apikey/"]
)
def test_staff_without_an_authenticator_are_sent_to_set_one_up(owner, client_a, settings, path):
    settings.REQUIRE_MFA_FOR_STAFF = True
    owner.is_superuser = True
    owner.save(update_fields=["is_superuser"])
    http = HttpClient()
    assert log_in(http, owner.email)["Location"] == "/dashboard/"
    response = http.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/"


def test_staff_set_up_an_authenticator_through_the_pages_and_then_get_in(owner, client_a, settings):
    """The whole path: the setup (and allauth's password re-check) stays reachable, and
    once a code from the new authenticator is accepted, dashboards and admin open."""
    from allauth.mfa.totp.internal.auth import (
        SECRET_SESSION_KEY,
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    settings.REQUIRE_MFA_FOR_STAFF = True
    http = HttpClient()
    log_in(http, owner.email)
    assert http.get("/dashboard/acme/")["Location"] == "/accounts/2fa/totp/activate/"
    response = http.get("/accounts/2fa/totp/activate/")
    if response.status_code == 302:  # allauth asks for the password again first
        assert response["Location"].startswith("/accounts/reauthenticate/")
        http.post(response["Location"], {"password": PASSWORD})
        response = http.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 200
    assert "two-factor" in response.content.decode().lower()
    secret = http.session[SECRET_SESSION_KEY]
    # The tolerance window holds more than one counter: try each.
    for counter in yield_hotp_counters_from_time():
        code = format_hotp_value(hotp_value(secret, counter))
        done = http.post("/accounts/2fa/totp/activate/", {"code": code})
        if done.status_code == 302:
            break
    assert done.status_code == 302
    assert http.get("/dashboard/acme/").status_code == 200
    assert http.get("/admin/").status_code == 200


def test_staff_with_an_authenticator_reach_dashboards_and_admin(owner, client_a, settings):
    from allauth.mfa.models import Authenticator

    settings.REQUIRE_MFA_FOR_STAFF = True
    owner.is_superuser = True
    owner.save(update_fields=["is_superuser"])
    _activate_totp(owner)
    assert Authenticator.objects.filter(user=owner).exists()
    http = HttpClient()
    http.force_login(owner)
    assert http.get("/dashboard/acme/").status_code == 200
    assert http.get("/admin/").status_code == 200


def test_client_users_and_staff_without_the_setting_are_not_asked_for_two_factor(
    http_a, http_owner, client_a, settings
):
    settings.REQUIRE_MFA_FOR_STAFF = True
    assert http_a.get("/dashboard/acme/").status_code == 200
    settings.REQUIRE_MFA_FOR_STAFF = False
    assert http_owner.get("/dashboard/acme/").status_code == 200


def test_require_mfa_for_staff_is_off_unless_the_environment_says_so():
    from flusso_site.settings import accounts

    assert accounts.REQUIRE_MFA_FOR_STAFF is False


# Password reset without mail -----------------------------------------------------------


@pytest.fixture
def no_mail(settings):
    """Production without EMAIL_HOST: DEBUG off and a backend that would only print."""
    settings.DEBUG = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"


def test_without_mail_the_reset_page_says_so_and_sends_nothing(user_a, no_mail, capsys):
    page = HttpClient().get("/accounts/password/reset/")
    assert page.status_code == 200
    assert "E-mail is not configured" in page.content.decode()
    assert 'name="email"' not in page.content.decode()
    response = HttpClient().post("/accounts/password/reset/", {"email": user_a.email})
    assert response.status_code == 503
    assert "E-mail is not configured" in response.content.decode()
    printed = capsys.readouterr()
    assert "/accounts/password/reset/key/" not in printed.out + printed.err
    assert user_a.email not in printed.out + printed.err


def test_without_mail_no_allauth_mail_reaches_the_console(user_a, no_mail, capsys, rf):
    """The adapter's guard: whatever flow would mail, nothing is printed."""
    from allauth.account.adapter import get_adapter
    from allauth.core import context

    request = rf.get("/")
    with context.request_context(request):
        get_adapter(request).send_mail(
            "account/email/password_reset_key", user_a.email, {"password_reset_url": "SECRET"}
        )
    printed = capsys.readouterr()
    assert "SECRET" not in printed.out + printed.err


def test_a_system_check_warns_when_mail_is_not_configured(no_mail, settings):
    from dashboard.accounts import check_mail_configured

    assert [m.id for m in check_mail_configured()] == ["flusso.W001"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert check_mail_configured() == []
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.DEBUG = True  # development: the console is where mail is meant to go
    assert check_mail_configured() == []


def test_without_email_host_production_settings_use_a_backend_that_prints_nothing(monkeypatch):
    import importlib

    from flusso_site.settings import accounts

    monkeypatch.delenv("EMAIL_HOST", raising=False)
    monkeypatch.setenv("DEBUG", "false")
    try:
        assert importlib.reload(accounts).EMAIL_BACKEND.endswith("dummy.EmailBackend")
        monkeypatch.setenv("DEBUG", "true")
        assert importlib.reload(accounts).EMAIL_BACKEND.endswith("console.EmailBackend")
    finally:
        monkeypatch.undo()
        importlib.reload(accounts)
