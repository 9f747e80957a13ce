"""The dashboard tests' fixtures (clients acme and globex, their users, the owner)."""

from dashboard.tests.conftest import (  # noqa: F401 (fixtures)
    client_a,
    client_b,
    http_a,
    http_owner,
    owner,
    user_a,
)
