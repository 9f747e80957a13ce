"""The dashboard's fixtures (clients acme and globex, their users, the owner, logged-in
HTTP clients) for the monitors' tests."""

from dashboard.tests.conftest import (  # noqa: F401 (fixtures)
    client_a,
    client_b,
    fresh_cache,
    http_a,
    http_owner,
    owner,
    user_a,
)
