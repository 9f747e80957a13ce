"""Admin: the owner manages memberships on the user page and in their own list."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from dashboard.models import Membership
from dashboard.tests.factories import PASSWORD, UserFactory


@pytest.fixture
def admin_http(db):
    http = HttpClient()
    http.force_login(UserFactory(is_staff=True, is_superuser=True))
    return http


def test_user_admin_page_has_the_memberships_inline(admin_http, user_a):
    html = admin_http.get(reverse("admin:auth_user_change", args=[user_a.pk])).content.decode()
    assert "memberships-TOTAL_FORMS" in html
    assert "Acme Plumbing" in html


def test_membership_admin_lists_and_adds_memberships(admin_http, user_a, client_b):
    html = admin_http.get(reverse("admin:dashboard_membership_changelist")).content.decode()
    assert "ann@acme.example" in html
    response = admin_http.post(
        reverse("admin:dashboard_membership_add"), {"user": user_a.pk, "client": client_b.pk}
    )
    assert response.status_code == 302
    assert Membership.objects.filter(user=user_a, client=client_b).exists()


def test_a_membership_cannot_be_added_twice(admin_http, user_a, client_a):
    response = admin_http.post(
        reverse("admin:dashboard_membership_add"), {"user": user_a.pk, "client": client_a.pk}
    )
    assert response.status_code == 200  # the form comes back with the error
    assert Membership.objects.filter(user=user_a, client=client_a).count() == 1


def test_the_admin_login_is_allauths_login(db):
    """/admin/login/ hands over to allauth, so its rate limits and two-factor apply there too.

    Django's own admin login form checks passwords without either: the owner's password
    could be guessed there without limit, and a stolen one used without the second factor.
    """
    response = HttpClient().get(reverse("admin:login"), {"next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_admin_login_form_does_not_check_passwords(db):
    owner = UserFactory(email="boss@flusso.example", is_staff=True, is_superuser=True)
    http = HttpClient()
    response = http.post(
        reverse("admin:login"), {"username": owner.username, "password": PASSWORD, "next": "/"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert http.get(reverse("admin:index")).status_code == 302  # still not logged in


def test_a_logged_in_client_user_is_refused_the_admin_login(http_a):
    assert http_a.get(reverse("admin:login")).status_code == 403
