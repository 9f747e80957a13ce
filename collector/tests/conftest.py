from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from collector.models import ApiKey
from collector.tests.factories import ApiKeyFactory
from flusso_site.testing import fresh_cache  # noqa: F401 (an autouse fixture)


@pytest.fixture
def api_key(db) -> ApiKey:
    return ApiKeyFactory(client__slug="client_abc", client__name="ABC Plumbing")


class Api:
    """Posts to the API by URL name, with or without the key, as a deployment would."""

    def __init__(self, http: HttpClient, key: str | None) -> None:
        self.http = http
        self.key = key

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        token = key if key is not None else self.key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def post(
        self,
        name: str,
        payload: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        gzipped: bool = False,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        body = raw if raw is not None else json.dumps(payload).encode()
        extra = dict(headers or {})
        if gzipped:
            body = gzip.compress(body)
            extra["Content-Encoding"] = "gzip"
        return self.http.post(
            reverse(name), data=body, content_type=content_type, headers=self.headers(key, **extra)
        )

    def get(self, name: str, *, key: str | None = None):
        return self.http.get(reverse(name), headers=self.headers(key))


@pytest.fixture
def api(api_key) -> Api:
    return Api(HttpClient(), api_key.raw_key)


@pytest.fixture
def fresh_partitions(transactional_db):
    """Months a committed (transactional) test creates are dropped again after it: DDL
    outlives the table truncation between such tests."""
    from django.db import connection

    from collector import partitions

    before = {p.name for p in partitions.partitions_list()}
    yield
    with connection.cursor() as cursor:
        for partition in partitions.partitions_list():
            if partition.name not in before:
                cursor.execute(f"DROP TABLE {connection.ops.quote_name(partition.name)}")
