import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from collector.exceptions import error_status
from collector.keys import key_parse, secret_hash
from collector.models import ApiKey, ApiKeyEvent, ApiKeyEventKind, ApiKeyEventSource, WorkflowLog
from collector.services import (
    api_key_create,
    api_key_mark_used,
    api_key_revoke,
    api_key_revoked_use_record,
    client_create,
    log_batch_ingest,
    log_ingest,
    logs_prune,
)
from collector.tests.factories import ClientFactory, WorkflowLogFactory, log_document
from flusso_site.errors import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return ClientFactory(slug="client_abc")


class TestClientCreate:
    def test_creates_a_valid_client(self):
        created = client_create(slug="acme-eu", name="Acme EU", retention_days=30)
        assert created.pk and created.is_active and created.retention_days == 30

    @pytest.mark.parametrize("slug", ["Acme", "a", "has space", "-dash-first", "x" * 64])
    def test_refuses_invalid_slugs(self, slug):
        with pytest.raises(ApplicationError) as info:
            client_create(slug=slug, name="Bad")
        assert "slug" in info.value.fields

    def test_refuses_a_taken_slug(self, client):
        with pytest.raises(ApplicationError):
            client_create(slug=client.slug, name="Again")


class TestApiKeys:
    def test_only_the_hash_of_the_secret_is_stored(self, client):
        api_key, raw_key = api_key_create(client=client, label="prod")
        parsed = key_parse(raw_key)
        assert parsed is not None and parsed.prefix == api_key.prefix
        row = ApiKey.objects.values().get(pk=api_key.pk)
        assert row["secret_hash"] == secret_hash(parsed.secret)
        assert not any(parsed.secret in str(value) for value in row.values())

    def test_a_client_can_hold_several_keys(self, client):
        api_key_create(client=client)
        api_key_create(client=client)
        assert client.api_keys.count() == 2

    def test_revoke_sets_the_time_once(self, client):
        api_key, _ = api_key_create(client=client)
        first = datetime(2026, 1, 1, tzinfo=UTC)
        api_key_revoke(api_key=api_key, now=first)
        api_key_revoke(api_key=api_key, now=first + timedelta(days=1))
        api_key.refresh_from_db()
        assert api_key.revoked_at == first

    def test_a_key_is_ingest_only_unless_other_scopes_are_asked_for(self, client):
        default, _ = api_key_create(client=client)
        both, _ = api_key_create(client=client, scopes=["read", "ingest"])
        reader, _ = api_key_create(client=client, scopes=["read"])
        scopes = dict(ApiKey.objects.values_list("pk", "scope_read"))
        assert default.scopes == ["ingest"] and not scopes[default.pk]
        assert both.scopes == ["ingest", "read"]
        assert reader.scopes == ["read"] and ApiKey.objects.get(pk=reader.pk).scopes == ["read"]

    @pytest.mark.parametrize("scopes", [["write"], [], [""], ["read", "admin"]])
    def test_an_unknown_scope_or_none_creates_no_key_and_no_event(self, client, scopes):
        with pytest.raises(ApplicationError) as raised:
            api_key_create(client=client, scopes=scopes)
        assert "scopes" in raised.value.fields
        assert not ApiKey.objects.exists() and not ApiKeyEvent.objects.exists()

    def test_the_database_refuses_a_key_without_a_scope(self, client):
        from django.db import IntegrityError, transaction

        api_key, _ = api_key_create(client=client)
        with pytest.raises(IntegrityError), transaction.atomic():
            ApiKey.objects.filter(pk=api_key.pk).update(scope_ingest=False)

    def test_last_used_is_written_at_most_once_a_minute(self, client, django_assert_num_queries):
        api_key, _ = api_key_create(client=client)
        now = timezone.now()
        with django_assert_num_queries(1):
            api_key_mark_used(api_key=api_key, now=now)
        with django_assert_num_queries(0):
            api_key_mark_used(api_key=api_key, now=now + timedelta(seconds=59))
        with django_assert_num_queries(1):
            api_key_mark_used(api_key=api_key, now=now + timedelta(seconds=61))
        api_key.refresh_from_db()
        assert api_key.last_used_at == now + timedelta(seconds=61)

    def test_a_stale_copy_does_not_overwrite_a_newer_last_used(self, client):
        api_key, _ = api_key_create(client=client)
        now = timezone.now()
        api_key_mark_used(api_key=api_key, now=now)
        stale = ApiKey.objects.get(pk=api_key.pk)
        stale.last_used_at = None
        api_key_mark_used(api_key=stale, now=now + timedelta(seconds=5))
        api_key.refresh_from_db()
        assert api_key.last_used_at == now


class TestApiKeyAudit:
    def test_creation_and_revocation_are_recorded_with_who_and_when(self, client):
        from dashboard.tests.factories import UserFactory

        owner = UserFactory(is_staff=True)
        api_key, _ = api_key_create(client=client, actor=owner, source=ApiKeyEventSource.ADMIN)
        revoked_at = api_key.created_at + timedelta(hours=1)
        api_key_revoke(api_key=api_key, now=revoked_at)
        events = list(ApiKeyEvent.objects.order_by("at").values())
        assert [(e["kind"], e["actor_id"], e["source"]) for e in events] == [
            (ApiKeyEventKind.CREATED, owner.pk, ApiKeyEventSource.ADMIN),
            (ApiKeyEventKind.REVOKED, None, ApiKeyEventSource.COMMAND_LINE),
        ]
        assert events[0]["at"] == api_key.created_at and events[1]["at"] == revoked_at
        assert {(e["key_prefix"], e["client_slug"]) for e in events} == {
            (api_key.prefix, client.slug)
        }

    def test_revoking_twice_records_one_event(self, client):
        api_key, _ = api_key_create(client=client)
        api_key_revoke(api_key=api_key)
        api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))
        stale = ApiKey.objects.get(pk=api_key.pk)
        stale.revoked_at = None  # a copy read before the first revocation
        api_key_revoke(api_key=stale)
        assert ApiKeyEvent.objects.filter(kind=ApiKeyEventKind.REVOKED).count() == 1
        assert stale.revoked_at == ApiKey.objects.get(pk=api_key.pk).revoked_at

    def test_a_revoked_key_flood_records_one_event_per_key_per_window(self, client, settings):
        settings.API_KEY_REVOKED_USE_EVENT_SECONDS = 60
        api_key, _ = api_key_create(client=client)
        other, _ = api_key_create(client=client)
        now = timezone.now()
        written = [
            api_key_revoked_use_record(api_key=api_key, ip="203.0.113.9", now=now)
            for _ in range(50)
        ]
        assert written.count(True) == 1
        assert api_key_revoked_use_record(api_key=other, ip=None, now=now)
        used = ApiKeyEvent.objects.filter(kind=ApiKeyEventKind.REVOKED_KEY_USED)
        assert used.count() == 2
        assert used.get(api_key=api_key).ip == "203.0.113.9"

    def test_the_database_check_holds_when_another_process_let_a_request_through(self, client):
        """Without a shared cache each process lets one request per window through; the
        database still holds one row per key per window."""
        from django.core.cache import cache

        api_key, _ = api_key_create(client=client)
        now = timezone.now()
        assert api_key_revoked_use_record(api_key=api_key, ip=None, now=now)
        cache.clear()  # as another worker, with its own in-process cache
        assert not api_key_revoked_use_record(api_key=api_key, ip=None, now=now)
        cache.clear()
        later = now + timedelta(seconds=61)
        assert api_key_revoked_use_record(api_key=api_key, ip=None, now=later)
        assert ApiKeyEvent.objects.filter(kind=ApiKeyEventKind.REVOKED_KEY_USED).count() == 2


class TestLogIngest:
    def test_stores_typed_columns_and_the_document(self, client):
        document = log_document(
            error={
                "type": "ToolTimeout",
                "message": "order_lookup timed out",
                "node": "react_agent",
            },
            status="FAILED",
            extra_field={"kept": True},
        )
        result = log_ingest(client=client, document=document)
        log = WorkflowLog.objects.get(log_id=result.log_id)
        assert result.status == "created"
        assert str(log.log_id) == document["log_id"]
        assert log.status == "FAILED" and log.ticket_id == "12345"
        assert log.timestamp == datetime(2026, 11, 20, 9, 14, 9, 940000, tzinfo=UTC)
        assert log.execution_time_seconds == 4.82
        assert (log.react_iterations, log.vision_matches, log.text_matches) == (5, 4, 10)
        assert (log.overall_confidence, log.hallucination_risk, log.product_confidence) == (
            0.82,
            0.12,
            0.91,
        )
        assert (log.error_type, log.error_node) == ("ToolTimeout", "react_agent")
        assert log.error_message == "order_lookup timed out"
        assert log.document["extra_field"] == {"kept": True}
        assert log.document["client_id"] == "client_abc"

    def test_same_log_id_twice_is_a_duplicate_stored_once(self, client):
        document = log_document()
        first = log_ingest(client=client, document=document)
        second = log_ingest(client=client, document=document)
        assert (first.status, second.status) == ("created", "duplicate")
        assert second.log_id == first.log_id
        assert WorkflowLog.objects.count() == 1

    def test_same_log_id_for_two_clients_is_two_logs(self, client):
        document = log_document()
        log_ingest(client=client, document=document)
        other = ClientFactory(slug="other")
        assert log_ingest(client=other, document=document).status == "created"

    def test_missing_log_id_and_timestamp_are_filled_by_the_server(self, client):
        document = log_document()
        del document["log_id"], document["timestamp"]
        before = timezone.now()
        log = WorkflowLog.objects.get(log_id=log_ingest(client=client, document=document).log_id)
        assert isinstance(log.log_id, uuid.UUID)
        assert log.document["log_id"] == str(log.log_id)
        assert log.timestamp == log.received_at and log.timestamp >= before

    def test_environment_defaults_to_production(self, client):
        document = log_document()
        del document["environment"]
        log = WorkflowLog.objects.get(log_id=log_ingest(client=client, document=document).log_id)
        assert log.environment == "production"

    def test_mismatched_client_id_is_refused_with_both_names(self, client):
        with pytest.raises(ApplicationError) as info:
            log_ingest(client=client, document=log_document(client_id="someone_else"))
        assert error_status(info.value) == 403 and info.value.code == "client_mismatch"
        assert "someone_else" in info.value.message and "client_abc" in info.value.message
        assert not WorkflowLog.objects.exists()

    def test_secrets_and_emails_are_scrubbed_before_storing(self, client):
        document = log_document(
            config={"openai_api_key": "sk-proj-abc123def456"},
            error={"type": "X", "message": "failed for jane.doe@example.com", "node": "n"},
        )
        log = WorkflowLog.objects.get(log_id=log_ingest(client=client, document=document).log_id)
        assert log.document["config"]["openai_api_key"] == "[REDACTED]"
        assert "jane.doe@example.com" not in log.error_message
        assert "jane.doe@example.com" not in str(log.document)

    def test_long_error_messages_are_cut_in_the_column_but_kept_in_the_document(self, client):
        message = "x" * 2000
        document = log_document(error={"type": "E", "message": message, "node": "n"})
        log = WorkflowLog.objects.get(log_id=log_ingest(client=client, document=document).log_id)
        assert len(log.error_message) == 500
        assert log.document["error"]["message"] == message

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"status": "DONE"}, "status"),
            ({"ticket_id": None}, "ticket_id"),
            ({"timestamp": "2026-11-20T09:14:09"}, "timestamp"),
            ({"timestamp": "yesterday"}, "timestamp"),
            ({"execution_time_seconds": -1}, "execution_time_seconds"),
            ({"log_id": "not-a-uuid"}, "log_id"),
            ({"metrics": {"overall_confidence": 1.5}}, "metrics"),
            ({"metrics": {"hallucination_risk": -0.1}}, "metrics"),
            ({"metrics": {"react_iterations": -2}}, "metrics"),
            ({"metrics": {"vision_matches": 2**40}}, "metrics"),
            ({"metrics": {"overall_confidence": True}}, "metrics"),
            ({"error": "boom"}, "error"),
            ({"trace": [1, 2]}, "trace"),
        ],
    )
    def test_invalid_fields_are_refused_by_name(self, client, overrides, field):
        with pytest.raises(ApplicationError) as info:
            log_ingest(client=client, document=log_document(**overrides))
        assert error_status(info.value) == 400 and field in info.value.fields
        assert not WorkflowLog.objects.exists()

    def test_a_non_object_document_is_refused(self, client):
        with pytest.raises(ApplicationError):
            log_ingest(client=client, document=["not", "an", "object"])


class TestLogBatchIngest:
    def test_valid_documents_are_stored_and_invalid_ones_reported_by_index(self, client):
        documents = [log_document(), log_document(status="NOPE"), log_document(), 7]
        result = log_batch_ingest(client=client, documents=documents)
        assert (result.created, result.duplicate, result.rejected) == (2, 0, 2)
        assert [item["status"] for item in result.results] == [
            "created",
            "rejected",
            "created",
            "rejected",
        ]
        assert "status" in result.results[1]["errors"]
        assert WorkflowLog.objects.count() == 2
        ids = {item["log_id"] for item in result.results if item["status"] == "created"}
        assert ids == {str(i) for i in WorkflowLog.objects.values_list("log_id", flat=True)}
        assert not any("id" in item for item in result.results)

    def test_duplicates_already_stored_or_repeated_in_the_batch_are_counted_not_stored(
        self, client
    ):
        stored = log_document()
        log_ingest(client=client, document=stored)
        fresh = log_document()
        result = log_batch_ingest(client=client, documents=[stored, fresh, fresh])
        assert (result.created, result.duplicate, result.rejected) == (1, 2, 0)
        assert WorkflowLog.objects.count() == 2

    def test_a_batch_with_nothing_valid_touches_no_table(self, client, django_assert_num_queries):
        with django_assert_num_queries(0):
            result = log_batch_ingest(client=client, documents=[{}, [], "x"])
        assert result.rejected == 3 and result.created == 0

    def test_a_client_id_mismatch_refuses_the_whole_batch(self, client):
        documents = [log_document(), log_document(client_id="intruder")]
        with pytest.raises(ApplicationError) as info:
            log_batch_ingest(client=client, documents=documents)
        assert error_status(info.value) == 403
        assert not WorkflowLog.objects.exists()

    def test_oversized_documents_are_rejected_one_by_one(self, client, settings):
        settings.INGEST_MAX_DOCUMENT_BYTES = 2048
        big = log_document(trace={"blob": "x" * 4096})
        result = log_batch_ingest(client=client, documents=[log_document(), big], body_bytes=10_000)
        assert [item["status"] for item in result.results] == ["created", "rejected"]
        assert "2048" in str(result.results[1]["errors"])


class TestPurge:
    def test_deletes_only_logs_past_their_clients_retention(self, client):
        now = timezone.now()
        client.retention_days = 30
        client.save()
        keep_all = ClientFactory(slug="keeps-all")
        old = WorkflowLogFactory(client=client, timestamp=now - timedelta(days=31))
        recent = WorkflowLogFactory(client=client, timestamp=now - timedelta(days=29))
        ancient = WorkflowLogFactory(client=keep_all, timestamp=now - timedelta(days=400))
        assert logs_prune(now=now).logs == 1
        remaining = set(WorkflowLog.objects.values_list("pk", flat=True))
        assert remaining == {recent.pk, ancient.pk} and old.pk not in remaining


class TestIdempotencyAcrossMonths:
    """(client, log_id) is unique however the partitions split the log table."""

    def test_a_resend_with_a_timestamp_in_another_month_is_a_duplicate(self, client):
        document = log_document(timestamp="2026-10-31T23:59:59+00:00")
        assert log_ingest(client=client, document=document).status == "created"
        moved = dict(document, timestamp="2026-11-01T00:00:01+00:00")
        assert log_ingest(client=client, document=moved).status == "duplicate"
        batch = log_batch_ingest(client=client, documents=[moved, document])
        assert (batch.created, batch.duplicate) == (0, 2)
        assert WorkflowLog.objects.for_client(client).count() == 1
        assert WorkflowLog.objects.for_client(client).get().timestamp.month == 10

    def test_a_resend_without_a_timestamp_is_a_duplicate(self, client):
        """The server stamps a log sent without a time; a retry must not be a new log."""
        document = log_document()
        del document["timestamp"]
        assert log_ingest(client=client, document=document).status == "created"
        assert log_ingest(client=client, document=dict(document)).status == "duplicate"
        assert WorkflowLog.objects.for_client(client).count() == 1
