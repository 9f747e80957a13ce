from __future__ import annotations

import os

import pytest
from django.test import Client as HttpClient

from collector.models import Client
from collector.tests.factories import ClientFactory
from dashboard.tests.factories import MembershipFactory, UserFactory
from flusso_site.testing import fresh_cache  # noqa: F401 (an autouse fixture)

# The browser tests drive Playwright's sync API, which runs an event loop in the test's
# thread; Django then refuses ORM calls there (fixtures, teardown) unless told it is safe.
# It is: the loop only talks to the browser, never to the database.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def client_a(db) -> Client:
    return ClientFactory(slug="acme", name="Acme Plumbing")


@pytest.fixture
def client_b(db) -> Client:
    return ClientFactory(slug="globex", name="Globex Outdoor")


@pytest.fixture
def user_a(client_a):
    return MembershipFactory(client=client_a, user__email="ann@acme.example").user


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@flusso.example", is_staff=True)


@pytest.fixture
def http_a(user_a) -> HttpClient:
    http = HttpClient()
    http.force_login(user_a)
    return http


@pytest.fixture
def http_owner(owner) -> HttpClient:
    http = HttpClient()
    http.force_login(owner)
    return http
