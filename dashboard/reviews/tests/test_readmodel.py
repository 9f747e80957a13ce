"""The verdict counts equal a recount from the Verdict table after any sequence of
recordings, changes of kind, prunes (batches and dropped months), rebuilds and client
deletions, over any window, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections import Counter

import pytest
from django.db import transaction
from django.db.models import Count, Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import partitions
from collector.models import Client, WorkflowLog
from collector.readmodel.facts import CALIBRATION_BUCKETS
from collector.readmodel.reads import Scope, Span
from collector.services import log_batch_ingest, logs_prune
from collector.tests.factories import ClientFactory
from collector.tests.test_readmodel import NOW, document, log_specs, moments
from dashboard.reviews.models import Verdict, VerdictKind, VerdictRollup
from dashboard.reviews.readmodel import (
    NO_BUCKET,
    VerdictCounts,
    verdict_counts_rebuild,
    verdict_totals,
    verdict_totals_by_client_environment,
)
from dashboard.reviews.services import verdict_record
from dashboard.tests.factories import MembershipFactory, UserFactory
from flusso_site.errors import ApplicationError

UTC = dt.UTC
KINDS = list(VerdictKind.values)


def recount(client: Client, span: Span, *, environment: str = "", version: str = "") -> Counter:
    """(status, kind, confidence bucket) -> verdicts in the span, by plain ORM counts."""
    verdicts = Verdict.objects.filter(
        client=client, timestamp__gte=span.start, timestamp__lt=span.end
    )
    if environment:
        verdicts = verdicts.filter(environment=environment)
    if version:
        verdicts = verdicts.filter(workflow_version=version)
    found: Counter = Counter()
    buckets = [(NO_BUCKET, Q(overall_confidence__isnull=True))]
    for i in range(CALIBRATION_BUCKETS):
        condition = Q(overall_confidence__gte=i / CALIBRATION_BUCKETS)
        if i < CALIBRATION_BUCKETS - 1:
            condition &= Q(overall_confidence__lt=(i + 1) / CALIBRATION_BUCKETS)
        buckets.append((i, condition))
    for bucket, condition in buckets:
        rows = verdicts.filter(condition).values_list("status", "kind").annotate(n=Count("id"))
        for status, kind, n in rows.order_by():
            found[(status, kind, bucket)] += n
    return found


def check_exact(clients: list[Client], spans: list[Span]) -> None:
    for client in clients:
        for environment, version in [("", ""), ("production", ""), ("staging", "v1.0")]:
            scope = Scope(client_id=client.pk, environment=environment, version=version)
            got = verdict_totals(scope, spans)
            for span, counts in zip(spans, got, strict=True):
                expected = recount(client, span, environment=environment, version=version)
                assert +counts.cells == expected, (span, environment, version)
    named = {f"s{i}": span for i, span in enumerate(spans)}
    by_env = verdict_totals_by_client_environment([c.pk for c in clients], named)
    for client in clients:
        for environment in ("production", "staging"):
            found = by_env.get((client.pk, environment), {})
            for name, span in named.items():
                counts = found.get(name, VerdictCounts())
                assert +counts.cells == recount(client, span, environment=environment)


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.integers(0, 1),
            st.tuples(st.integers(0, 1000), st.sampled_from(KINDS), st.integers(0, 1)),
        ),
        st.tuples(st.just("prune"), st.integers(0, 1), st.tuples(st.integers(1, 70), moments)),
        st.tuples(st.just("rebuild"), st.integers(0, 1), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)
windows = st.lists(
    st.tuples(
        st.integers(min_value=-90 * 24 * 60, max_value=4 * 60),
        st.integers(min_value=1, max_value=40 * 24 * 60),
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    logs=st.lists(log_specs, min_size=1, max_size=12, unique_by=lambda s: s["log_id"]),
    ops=operations,
    spans=windows,
)
def test_verdict_counts_equal_a_recount_after_any_writes(db, logs, ops, spans):
    with transaction.atomic():
        for month in (8, 9, 10):
            partitions.partition_create(dt.datetime(2026, month, 1, tzinfo=UTC))
        clients = [ClientFactory(slug="hypo-a"), ClientFactory(slug="hypo-b")]
        owner = UserFactory(email="owner@flusso.example", is_staff=True)
        members = [
            MembershipFactory(client=c, user__email=f"m@{c.slug}.example").user for c in clients
        ]
        for index, spec in enumerate(logs):
            log_batch_ingest(client=clients[index % 2], documents=[document(spec)])
        for op, which, arg in ops:
            client = clients[which]
            if op == "record":
                pick, kind, who = arg
                ids = list(
                    WorkflowLog.objects.for_client(client)
                    .order_by("log_id")
                    .values_list("log_id", flat=True)
                )
                if not ids:
                    continue
                user = owner if who else members[which]
                # Another user's verdict is refused: nothing changes.
                with contextlib.suppress(ApplicationError):
                    verdict_record(client=client, log_id=ids[pick % len(ids)], user=user, kind=kind)
            elif op == "prune":
                days, cutoff = arg
                Client.objects.filter(pk=client.pk).update(retention_days=days)
                logs_prune(now=cutoff + dt.timedelta(days=days, seconds=3))
                Client.objects.filter(pk=client.pk).update(retention_days=None)
            elif op == "rebuild":
                verdict_counts_rebuild(client_ids=[client.pk])
        checked = [
            Span(NOW + dt.timedelta(minutes=start), NOW + dt.timedelta(minutes=start + n))
            for start, n in spans
        ] + [Span(NOW - dt.timedelta(days=400), NOW + dt.timedelta(days=2))]
        check_exact(clients, checked)
        # No verdict outlives its log.
        stored = set(WorkflowLog.objects.values_list("client_id", "log_id"))
        assert set(Verdict.objects.values_list("client_id", "log_id")) <= stored
        transaction.set_rollback(True)


@pytest.fixture
def owner_user(db):
    return UserFactory(email="owner@flusso.example", is_staff=True)


def _logs(client: Client, *moments_: dt.datetime, **fields) -> list:
    specs = [
        {
            "log_id": uuid.uuid4(),
            "timestamp": moment,
            "environment": fields.get("environment", "production"),
            "version": fields.get("version", "v1.0"),
            "status": fields.get("status", "SUCCESS"),
            "seconds": 3.0,
            "confidence": fields.get("confidence", 0.85),
            "risk": 0.1,
            "iterations": 3,
            "error": None,
        }
        for moment in moments_
    ]
    log_batch_ingest(client=client, documents=[document(spec) for spec in specs])
    return [spec["log_id"] for spec in specs]


def test_a_change_of_kind_moves_the_count_and_a_repeat_changes_nothing(owner_user):
    client = ClientFactory(slug="acme")
    (log_id,) = _logs(client, NOW - dt.timedelta(minutes=90))
    span = Span(NOW - dt.timedelta(days=1), NOW)
    scope = Scope(client_id=client.pk)
    verdict_record(client=client, log_id=log_id, user=owner_user, kind="correct")
    verdict_record(client=client, log_id=log_id, user=owner_user, kind="correct")
    (counts,) = verdict_totals(scope, [span])
    assert +counts.cells == Counter({("SUCCESS", "correct", 8): 1})
    verdict_record(client=client, log_id=log_id, user=owner_user, kind="incorrect")
    (counts,) = verdict_totals(scope, [span])
    assert +counts.cells == Counter({("SUCCESS", "incorrect", 8): 1})
    assert (counts.reviewed, counts.judged_correct) == (1, 0)
    # One row per key: the old kind's rows are at zero, not duplicated.
    assert VerdictRollup.objects.filter(n__gt=0).count() == 2  # its hour and its day


def test_a_window_off_the_hour_reads_its_edges_from_the_verdicts(owner_user):
    client = ClientFactory(slug="acme")
    ids = _logs(client, NOW - dt.timedelta(minutes=50), NOW - dt.timedelta(minutes=10))
    for log_id in ids:
        verdict_record(client=client, log_id=log_id, user=owner_user, kind="correct")
    (counts,) = verdict_totals(
        Scope(client_id=client.pk), [Span(NOW - dt.timedelta(minutes=30), NOW)]
    )
    assert counts.reviewed == 1


def test_client_deletion_takes_its_verdict_counts(owner_user):
    doomed, kept = ClientFactory(slug="doomed"), ClientFactory(slug="kept")
    for client in (doomed, kept):
        (log_id,) = _logs(client, NOW - dt.timedelta(hours=3))
        verdict_record(client=client, log_id=log_id, user=owner_user, kind="correct")
    doomed.delete()
    assert set(VerdictRollup.objects.values_list("client_id", flat=True)) == {kept.pk}


def test_the_rebuild_repairs_counts_that_drifted(owner_user):
    client = ClientFactory(slug="acme")
    ids = _logs(client, NOW - dt.timedelta(hours=2), NOW - dt.timedelta(days=3))
    for log_id in ids:
        verdict_record(client=client, log_id=log_id, user=owner_user, kind="incorrect")
    VerdictRollup.objects.update(n=7)
    assert verdict_counts_rebuild(client_ids=[client.pk]) == 2
    span = Span(NOW - dt.timedelta(days=10), NOW)
    (counts,) = verdict_totals(Scope(client_id=client.pk), [span])
    assert +counts.cells == recount(client, span)


def test_a_dropped_month_and_a_pruned_batch_subtract_their_verdicts(fresh_partitions):
    """On PostgreSQL the expired month is dropped whole; its verdicts are subtracted as
    exactly as those deleted with a batch of logs from a month that stays."""
    owner = UserFactory(email="owner@flusso.example", is_staff=True)
    keeper = ClientFactory(slug="keeps-all")
    short = ClientFactory(slug="short", retention_days=30)
    old, shared = dt.datetime(2026, 6, 10, tzinfo=UTC), dt.datetime(2026, 7, 10, tzinfo=UTC)
    for month in (old, shared):
        partitions.partition_create(month)
    short_ids = _logs(short, old, old + dt.timedelta(hours=5), shared)
    keeper_ids = _logs(keeper, shared)
    for client, ids in ((short, short_ids), (keeper, keeper_ids)):
        for log_id in ids:
            verdict_record(client=client, log_id=log_id, user=owner, kind="correct")
    now = dt.datetime(2026, 11, 20, tzinfo=UTC)
    logs_prune(now=now)
    whole = Span(now - dt.timedelta(days=400), now)
    (gone,) = verdict_totals(Scope(client_id=short.pk), [whole])
    (stays,) = verdict_totals(Scope(client_id=keeper.pk), [whole])
    assert (gone.reviewed, stays.reviewed) == (0, 1)
    assert not Verdict.objects.for_client(short).exists()
