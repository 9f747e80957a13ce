"""API key authentication: what a revoked key's use leaves in the audit trail."""

from __future__ import annotations

import pytest
from django.utils import timezone

from collector.models import ApiKeyEvent, ApiKeyEventKind, ApiKeyEventSource, WorkflowLog
from collector.tests.factories import log_document

LOG = "collector:log-ingest"
pytestmark = pytest.mark.django_db


@pytest.fixture
def revoked(api_key):
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    return api_key


def test_a_request_with_a_revoked_key_records_one_event_with_its_address(api, revoked):
    response = api.post(LOG, log_document(), headers={"X-Forwarded-For": "198.51.100.1"})
    assert response.status_code == 401
    event = ApiKeyEvent.objects.get()
    assert (event.kind, event.source, event.api_key, event.actor) == (
        ApiKeyEventKind.REVOKED_KEY_USED,
        ApiKeyEventSource.API,
        revoked,
        None,
    )
    # No proxy is trusted by default: the forwarded header is the caller's own words.
    assert event.ip == "127.0.0.1"
    assert not WorkflowLog.objects.exists()


def test_a_flood_with_a_revoked_key_records_one_event(api, revoked):
    for _ in range(30):
        assert api.post(LOG, log_document()).status_code == 401
    assert ApiKeyEvent.objects.filter(kind=ApiKeyEventKind.REVOKED_KEY_USED).count() == 1


def test_behind_a_trusted_proxy_the_event_names_the_address_the_proxy_saw(api, revoked, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    api.post(LOG, log_document(), headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.7"})
    assert ApiKeyEvent.objects.get().ip == "198.51.100.7"


def test_a_revoked_prefix_with_a_wrong_secret_records_nothing(api, revoked):
    forged = f"flk_{revoked.prefix}_{'x' * 43}"
    assert api.post(LOG, log_document(), key=forged).status_code == 401
    assert not ApiKeyEvent.objects.exists()


def test_a_working_key_records_no_event(api, api_key):
    assert api.post(LOG, log_document()).status_code == 201
    assert not ApiKeyEvent.objects.exists()
