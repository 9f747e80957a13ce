"""Admin: the owner manages memberships on the user page and in their own list."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from dashboard.models import Membership
from dashboard.tests.factories import UserFactory


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
