"""Concurrent writers: real connections from threads, committed transactions.

Exactly once under concurrent retries, rollups equal to a recount while compaction and the
rebuild run beside ingestion, and no request waiting on another's rollup row.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from collector.models import Client, LogReceipt, WorkflowLog
from collector.readmodel import reads
from collector.readmodel.writes import rollups_compact, rollups_rebuild
from collector.services import log_batch_ingest, log_ingest
from collector.tests.factories import ClientFactory, log_document
from collector.tests.recount import assert_totals_match, recount

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
WHOLE = reads.Span(NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=1))


def _in_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def _document(rng: random.Random, log_id: uuid.UUID) -> dict:
    moment = NOW - dt.timedelta(minutes=rng.randrange(0, 5 * 60))
    return log_document(
        log_id=str(log_id),
        timestamp=moment.isoformat(),
        status=rng.choice(["SUCCESS", "FAILED", "ERROR", "ESCALATED"]),
        execution_time_seconds=rng.uniform(0, 30),
        environment=rng.choice(["production", "staging"]),
    )


def test_concurrent_retries_store_each_log_once_and_the_rollups_count_it_once():
    """Eight writers send overlapping single logs and batches (the same log_ids again and
    again, as retrying shippers do) while another thread compacts the rollups."""
    client = ClientFactory(slug="busy")
    log_ids = [uuid.uuid4() for _ in range(120)]
    stop = threading.Event()

    def write(index: int) -> None:
        rng = random.Random(index)
        for _ in range(25):
            chosen = rng.sample(log_ids, rng.randint(1, 6))
            documents = [_document(random.Random(str(log_id)), log_id) for log_id in chosen]
            if len(documents) == 1:
                log_ingest(client=client, document=documents[0])
            else:
                log_batch_ingest(client=client, documents=documents)

    def compact() -> None:
        while not stop.is_set():
            rollups_compact()
        connections.close_all()

    compactor = threading.Thread(target=compact)
    compactor.start()
    try:
        _in_threads(8, write)
    finally:
        stop.set()
        compactor.join(timeout=60)
    stored = WorkflowLog.objects.for_client(client)
    assert stored.count() == stored.values("log_id").distinct().count()
    assert stored.count() == LogReceipt.objects.for_client(client).count()
    (totals,) = reads.totals(reads.Scope(client_id=client.pk), [WHOLE])
    assert_totals_match(totals, recount(client.pk, WHOLE.start, WHOLE.end))
    assert totals["runs"] == stored.count() > 0


def test_the_rebuild_is_exact_while_logs_keep_arriving():
    client = ClientFactory(slug="rebuilt")
    for index in range(40):
        log_ingest(client=client, document=_document(random.Random(index), uuid.uuid4()))
    done = threading.Event()

    def ingest(index: int) -> None:
        rng = random.Random(1000 + index)
        while not done.is_set():
            log_ingest(client=client, document=_document(rng, uuid.uuid4()))

    def rebuild(index: int) -> None:
        try:
            for _ in range(10):
                rollups_rebuild(client_ids=[client.pk])
        finally:
            done.set()

    before = WorkflowLog.objects.for_client(client).count()
    _in_threads(3, lambda i: rebuild(i) if i == 0 else ingest(i))
    assert WorkflowLog.objects.for_client(client).count() > before  # they did overlap
    (totals,) = reads.totals(reads.Scope(client_id=client.pk), [WHOLE])
    assert_totals_match(totals, recount(client.pk, WHOLE.start, WHOLE.end))


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only (SQLite has one writer by design): runs in CI's PostgreSQL pass",
)
def test_a_request_never_waits_for_another_requests_rollup_row():
    """Two ingestions for the same client and hour: the second commits while the first is
    still open. With an upserted rollup row it would wait for the first's commit."""
    client = ClientFactory(slug="hot")
    first_open, second_done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with transaction.atomic():
            log_ingest(client=client, document=_document(random.Random(1), uuid.uuid4()))
            first_open.set()
            outcome["second_finished_first"] = second_done.wait(timeout=20)

    def second() -> None:
        assert first_open.wait(timeout=20)
        with connection.cursor() as cursor:
            # Fail loudly instead of waiting if any lock of the first request is in the way.
            cursor.execute("SET lock_timeout = '2s'")
        log_ingest(client=client, document=_document(random.Random(1), uuid.uuid4()))
        second_done.set()

    _in_threads(2, lambda i: first() if i == 0 else second())
    assert outcome["second_finished_first"] is True
    assert WorkflowLog.objects.for_client(client).count() == 2
    assert Client.objects.filter(pk=client.pk).exists()
