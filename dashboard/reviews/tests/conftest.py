"""The dashboard's fixtures (clients acme and globex, their users, the owner, logged-in
HTTP clients) and the collector's fresh partitions, for the reviews' tests."""

import pytest
from django.test import Client as HttpClient

from collector.tests.conftest import fresh_partitions  # noqa: F401 (a fixture)
from dashboard.tests.conftest import (  # noqa: F401 (fixtures)
    client_a,
    client_b,
    fresh_cache,
    http_a,
    http_owner,
    owner,
    user_a,
)
from dashboard.tests.factories import MembershipFactory


@pytest.fixture
def colleague_a(client_a):  # noqa: F811 (the imported fixture, requested)
    """A second user of client acme."""
    return MembershipFactory(client=client_a, user__email="cole@acme.example").user


@pytest.fixture
def user_b(client_b):  # noqa: F811 (the imported fixture, requested)
    return MembershipFactory(client=client_b, user__email="bea@globex.example").user


@pytest.fixture
def http_b(user_b) -> HttpClient:
    http = HttpClient()
    http.force_login(user_b)
    return http


@pytest.fixture
def http_colleague(colleague_a) -> HttpClient:
    http = HttpClient()
    http.force_login(colleague_a)
    return http
