"""Test fixtures every Django app's tests share (imported by their conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Rate-limit counters (the API's and allauth's) live in the cache; no test inherits
    another's."""
    cache.clear()
    yield
    cache.clear()
