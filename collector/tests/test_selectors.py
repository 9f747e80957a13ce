"""The collector's reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from collector.keys import key_parse
from collector.models import ApiKey, Client
from collector.selectors import api_key_get_for_auth
from collector.tests.factories import ApiKeyFactory, ClientFactory

pytestmark = pytest.mark.django_db


def _fields(instance: object, model: type) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}


def test_the_key_lookup_gives_what_the_orm_gives_key_and_client_in_one_query(
    django_assert_num_queries,
):
    now = timezone.now()
    client = ClientFactory(is_active=False, retention_days=30)
    api_key = ApiKeyFactory(client=client, expires_at=now + timedelta(days=3))
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now, revoked_at=now)
    prefix = key_parse(api_key.raw_key).prefix

    with django_assert_num_queries(1):
        found = api_key_get_for_auth(prefix=prefix)
        found_client = found.client  # already there: no second query

    expected = ApiKey.objects.select_related("client").get(prefix=prefix)
    assert _fields(found, ApiKey) == _fields(expected, ApiKey)
    assert _fields(found_client, Client) == _fields(expected.client, Client)
    assert found.revoked_at == now and found.client.is_active is False
    assert found._state.adding is False and found._state.db == "default"


def test_an_unknown_prefix_finds_no_key():
    ApiKeyFactory()
    assert api_key_get_for_auth(prefix="nope0000") is None
