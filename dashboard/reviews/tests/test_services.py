"""verdict_record: create or change in one transaction, scrubbed and bounded text, who may
change, and verdicts leaving with their logs (retention) and their client."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pytest
from django.db import connection, connections, transaction

from collector import partitions
from collector.exceptions import error_status
from collector.models import Client
from collector.services import logs_prune
from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.reviews.models import (
    NOTE_MAX_CHARS,
    Verdict,
    VerdictEvent,
    VerdictKind,
)
from dashboard.reviews.services import (
    InvalidVerdict,
    VerdictLogNotFound,
    VerdictNotYours,
    verdict_record,
)
from dashboard.tests.factories import MembershipFactory

UTC = dt.UTC


@pytest.fixture
def run(client_a):
    return WorkflowLogFactory(
        client=client_a,
        status="FAILED",
        environment="staging",
        workflow_version="v2.1",
        overall_confidence=0.35,
    )


def test_a_first_verdict_is_stored_with_the_log_fields_the_figures_need(run, user_a):
    verdict = verdict_record(
        client=run.client, log_id=run.log_id, user=user_a, kind=VerdictKind.CORRECT
    )
    verdict.refresh_from_db()
    assert verdict.kind == "correct"
    assert verdict.author == user_a
    assert (verdict.timestamp, verdict.environment, verdict.workflow_version) == (
        run.timestamp,
        "staging",
        "v2.1",
    )
    assert (verdict.status, verdict.overall_confidence) == ("FAILED", 0.35)
    (event,) = VerdictEvent.objects.filter(verdict=verdict)
    assert (event.actor, event.kind) == (user_a, "correct")


def test_a_change_updates_the_one_verdict_and_adds_to_its_history(run, user_a):
    first = dt.datetime(2026, 11, 1, 9, tzinfo=UTC)
    later = first + dt.timedelta(hours=2)
    verdict_record(client=run.client, log_id=run.log_id, user=user_a, kind="correct", now=first)
    verdict = verdict_record(
        client=run.client,
        log_id=run.log_id,
        user=user_a,
        kind="incorrect",
        note="Wrong part number",
        better_answer="Use the 3/4 inch valve.",
        now=later,
    )
    assert Verdict.objects.count() == 1
    verdict.refresh_from_db()
    assert (verdict.kind, verdict.created_at, verdict.updated_at) == ("incorrect", first, later)
    history = list(verdict.events.order_by("at").values_list("kind", "note", "better_answer"))
    assert history == [
        ("correct", "", ""),
        ("incorrect", "Wrong part number", "Use the 3/4 inch valve."),
    ]


def test_recording_the_same_verdict_again_adds_no_history(run, user_a):
    for _ in range(2):
        verdict_record(client=run.client, log_id=run.log_id, user=user_a, kind="correct")
    assert VerdictEvent.objects.count() == 1


def test_note_and_better_answer_are_scrubbed_before_they_are_stored(run, user_a):
    verdict = verdict_record(
        client=run.client,
        log_id=run.log_id,
        user=user_a,
        kind="incorrect",
        note="  Customer jane.doe@example.com was told the wrong date  ",
        better_answer="Write to jane.doe@example.com with key sk-live-abcdefghijklmnop1234",
    )
    stored = Verdict.objects.get(pk=verdict.pk)
    event = stored.events.get()
    for text in (stored.note, stored.better_answer, event.note, event.better_answer):
        assert "jane.doe@example.com" not in text
        assert "sk-live-abcdefghijklmnop1234" not in text
    assert stored.note.startswith("Customer ") and stored.note.endswith("wrong date")


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"kind": "maybe"}, "kind"),
        ({"kind": "correct", "better_answer": "Say this instead."}, "better_answer"),
        ({"kind": "should_have_escalated", "better_answer": "x"}, "better_answer"),
        ({"kind": "correct", "note": "x" * (NOTE_MAX_CHARS + 1)}, "note"),
        ({"kind": "incorrect", "better_answer": "y" * 8001}, "better_answer"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(run, user_a, fields, field):
    with pytest.raises(InvalidVerdict) as caught:
        verdict_record(client=run.client, log_id=run.log_id, user=user_a, **fields)
    assert field in caught.value.fields
    assert not Verdict.objects.exists()
    assert not VerdictEvent.objects.exists()


def test_a_log_the_client_does_not_have_is_refused(run, user_a, client_b):
    other = WorkflowLogFactory(client=client_b)
    for log_id in (uuid.uuid4(), other.log_id):
        with pytest.raises(VerdictLogNotFound):
            verdict_record(client=run.client, log_id=log_id, user=user_a, kind="correct")
    assert not Verdict.objects.exists()


def test_a_user_of_another_client_cannot_judge_this_clients_runs(run, client_b):
    outsider = MembershipFactory(client=client_b).user
    with pytest.raises(VerdictLogNotFound):
        verdict_record(client=run.client, log_id=run.log_id, user=outsider, kind="correct")
    assert not Verdict.objects.exists()


def test_only_the_author_and_the_owner_may_change_a_verdict(run, user_a, owner, client_a):
    colleague = MembershipFactory(client=client_a).user
    verdict_record(client=run.client, log_id=run.log_id, user=user_a, kind="correct")
    with pytest.raises(VerdictNotYours) as caught:
        verdict_record(client=run.client, log_id=run.log_id, user=colleague, kind="incorrect")
    assert error_status(caught.value) == 403
    assert Verdict.objects.get().kind == "correct"
    verdict = verdict_record(
        client=run.client, log_id=run.log_id, user=owner, kind="escalated_needlessly"
    )
    # The owner's change keeps the author; the history says who changed it.
    assert (verdict.kind, verdict.author) == ("escalated_needlessly", user_a)
    assert [e.actor for e in verdict.events.order_by("at", "id")] == [user_a, owner]


def test_a_verdict_whose_author_was_deleted_is_the_owners_to_change(run, user_a, client_a):
    colleague = MembershipFactory(client=client_a).user
    verdict_record(client=run.client, log_id=run.log_id, user=user_a, kind="correct")
    user_a.delete()
    verdict = Verdict.objects.get()
    assert verdict.author is None
    with pytest.raises(VerdictNotYours):
        verdict_record(client=run.client, log_id=run.log_id, user=colleague, kind="incorrect")


def test_deleting_the_client_deletes_its_verdicts_and_their_history(run, user_a):
    verdict_record(client=run.client, log_id=run.log_id, user=user_a, kind="correct")
    Client.objects.filter(pk=run.client.pk).delete()
    assert not Verdict.objects.exists()
    assert not VerdictEvent.objects.exists()


def test_pruned_logs_take_their_verdicts_and_history_and_kept_logs_keep_theirs(user_a, client_a):
    now = dt.datetime(2026, 11, 20, tzinfo=UTC)
    old = WorkflowLogFactory(client=client_a, timestamp=now - dt.timedelta(days=40))
    recent = WorkflowLogFactory(client=client_a, timestamp=now - dt.timedelta(days=2))
    for log in (old, recent):
        verdict_record(client=client_a, log_id=log.log_id, user=user_a, kind="correct")
    Client.objects.filter(pk=client_a.pk).update(retention_days=30)
    report = logs_prune(now=now)
    assert report.logs == 1
    assert list(Verdict.objects.values_list("log_id", flat=True)) == [recent.log_id]
    assert VerdictEvent.objects.get().verdict.log_id == recent.log_id


def test_a_dropped_month_takes_its_verdicts_and_a_shared_month_keeps_the_keepers(
    fresh_partitions, django_user_model
):
    """The month partition of a client whose logs there all expired is dropped whole on
    PostgreSQL (batches on SQLite): its verdicts go; another client's in a shared month stay."""
    keeper = ClientFactory(slug="keeps-all")
    short = ClientFactory(slug="short", retention_days=30)
    owner = django_user_model.objects.create(username="boss", is_staff=True)
    old, shared = dt.datetime(2026, 6, 10, tzinfo=UTC), dt.datetime(2026, 7, 10, tzinfo=UTC)
    for month in (old, shared):
        partitions.partition_create(month)
    gone = [WorkflowLogFactory(client=short, timestamp=moment) for moment in (old, shared)]
    kept = WorkflowLogFactory(client=keeper, timestamp=shared)
    for log in [*gone, kept]:
        verdict_record(client=log.client, log_id=log.log_id, user=owner, kind="incorrect")
    report = logs_prune(now=dt.datetime(2026, 11, 20, tzinfo=UTC))
    assert report.logs_by_client == {"short": 2}
    if partitions.is_partitioned():
        assert report.partitions_dropped == [partitions.partition_name(old)]
    assert list(Verdict.objects.values_list("log_id", flat=True)) == [kept.log_id]
    assert list(VerdictEvent.objects.values_list("verdict__log_id", flat=True)) == [kept.log_id]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only (SQLite has one writer by design): runs in CI's PostgreSQL pass",
)
@pytest.mark.django_db(transaction=True)
def test_a_verdict_recorded_while_retention_deletes_its_log_is_refused_not_orphaned():
    """Retention deletes a log and its receipt in one transaction; a verdict recorded
    meanwhile waits for it on the receipt's lock and then finds the run gone, instead of
    committing a verdict (and a count) for a log that no longer exists."""
    from collector.models import LogReceipt, WorkflowLog

    client = ClientFactory(slug="racy")
    user = MembershipFactory(client=client, user__email="rae@racy.example").user
    log = WorkflowLogFactory(client=client)
    pruning = threading.Event()
    outcome: dict[str, object] = {}

    def prune() -> None:
        try:
            with transaction.atomic():
                WorkflowLog.objects.for_client(client).filter(log_id=log.log_id).delete()
                LogReceipt.objects.for_client(client).filter(log_id=log.log_id).delete()
                pruning.set()
                time.sleep(0.5)  # the verdict is being recorded now, and must wait
        finally:
            connections.close_all()

    def judge() -> None:
        pruning.wait(5)
        try:
            verdict_record(client=client, log_id=log.log_id, user=user, kind="correct")
            outcome["result"] = "recorded"
        except VerdictLogNotFound:
            outcome["result"] = "refused"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prune), threading.Thread(target=judge)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcome["result"] == "refused"
    assert not Verdict.objects.filter(log_id=log.log_id).exists()
