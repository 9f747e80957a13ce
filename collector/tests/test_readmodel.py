"""The read model is exact: after any mix of writes, every figure equals a raw recount.

The oracle is ``recount`` (plain ORM aggregates over the raw logs, as the dashboards once
computed them). The writes are the real services: single and batch ingestion with
duplicates and late logs, retention pruning (partition drops on PostgreSQL and batch
deletes), compaction at any point, the rebuild, and client deletion.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector import partitions
from collector.models import Client, DurationRollup, LogReceipt, Rollup, WorkflowLog
from collector.readmodel import reads
from collector.readmodel.facts import (
    DURATION_LAST_BUCKET,
    DURATION_MAX_SECONDS,
    DURATION_MIN_SECONDS,
    DURATION_RELATIVE_ERROR,
    duration_bucket,
    duration_value,
    percentile_from_histogram,
)
from collector.readmodel.writes import rollups_compact, rollups_rebuild
from collector.services import log_batch_ingest, log_ingest, logs_prune
from collector.tests.factories import ClientFactory, log_document
from collector.tests.recount import (
    assert_totals_match,
    recount,
    recount_durations,
    recount_errors,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ENVIRONMENTS = ["production", "staging"]
VERSIONS = ["v1.0", ""]
ERRORS = [None, ("ToolTimeout", "react_agent"), ("RateLimitError", "planner"), ("", "retrieval")]


@pytest.fixture
def client_a(db) -> Client:
    return ClientFactory(slug="acme")


@pytest.fixture
def client_b(db) -> Client:
    return ClientFactory(slug="globex")


def document(spec: dict[str, Any]) -> dict[str, Any]:
    error = spec["error"]
    return log_document(
        log_id=str(spec["log_id"]),
        timestamp=spec["timestamp"].isoformat(),
        environment=spec["environment"],
        workflow_version=spec["version"],
        status=spec["status"],
        execution_time_seconds=spec["seconds"],
        metrics={
            "overall_confidence": spec["confidence"],
            "hallucination_risk": spec["risk"],
            "react_iterations": spec["iterations"],
        },
        error={"type": error[0], "node": error[1], "message": "x"} if error else None,
    )


# Up to 80 days back (late logs and old months) and a few hours ahead; half of them in a
# few busy hours, so that pruning cutoffs and windows cut through hours holding logs.
moments = st.one_of(
    st.integers(min_value=-80 * 24 * 60, max_value=3 * 60),
    st.tuples(
        st.sampled_from([-60, -25 * 60, -10 * 24 * 60, -40 * 24 * 60]),
        st.integers(min_value=0, max_value=59),
    ).map(sum),
).map(lambda minutes: NOW + dt.timedelta(minutes=minutes, seconds=minutes % 7))
maybe_unit = st.one_of(
    st.none(), st.sampled_from([0.0, 0.3, 0.7, 1.0]), st.floats(min_value=0, max_value=1)
)
log_specs = st.fixed_dictionaries(
    {
        "log_id": st.uuids(version=4),
        "timestamp": moments,
        "environment": st.sampled_from(ENVIRONMENTS),
        "version": st.sampled_from(VERSIONS),
        "status": st.sampled_from(["SUCCESS", "FAILED", "ERROR", "ESCALATED"]),
        "seconds": st.one_of(
            st.none(),
            st.sampled_from([0.0, 2.0, 60.0]),
            st.floats(min_value=0, max_value=200, allow_nan=False),
        ),
        "confidence": maybe_unit,
        "risk": maybe_unit,
        "iterations": st.one_of(st.none(), st.integers(min_value=0, max_value=12)),
        "error": st.sampled_from(ERRORS),
    }
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("single"), st.integers(0, 1), log_specs),
        st.tuples(st.just("batch"), st.integers(0, 1), st.lists(log_specs, min_size=1, max_size=8)),
        st.tuples(st.just("resend"), st.integers(0, 1), st.integers(0, 1000)),
        st.tuples(
            st.just("prune"),
            st.integers(0, 1),
            st.tuples(st.integers(1, 70), moments),
        ),
        st.tuples(st.just("compact"), st.just(0), st.just(0)),
        st.tuples(st.just("rebuild"), st.integers(0, 1), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)
windows = st.lists(
    st.tuples(
        st.integers(min_value=-90 * 24 * 60, max_value=4 * 60),
        st.integers(min_value=1, max_value=40 * 24 * 60),
    ),
    min_size=1,
    max_size=3,
)


def check_exact(client: Client, spans: list[reads.Span]) -> None:
    for environment, version in [("", ""), ("production", ""), ("staging", "v1.0")]:
        scope = reads.Scope(client_id=client.pk, environment=environment, version=version)
        filters = {"environment": environment, "workflow_version": version}
        got = reads.totals(scope, spans)
        histograms = reads.duration_histograms(scope, spans)
        for span, totals, histogram in zip(spans, got, histograms, strict=True):
            expected = recount(
                client.pk, span.start, span.end, environment=environment, version=version
            )
            assert_totals_match(totals, expected)
            assert histogram == recount_durations(client.pk, span.start, span.end, **filters)
            errors = reads.error_groups(scope, span)
            assert errors == recount_errors(client.pk, span.start, span.end, **filters)


def run_operations(clients: list[Client], ops: list[tuple]) -> None:
    sent: list[dict[str, Any]] = []
    for kind, which, arg in ops:
        client = clients[which]
        if kind == "single":
            sent.append(document(arg))
            log_ingest(client=client, document=sent[-1])
        elif kind == "batch":
            documents = [document(spec) for spec in arg]
            sent += documents
            log_batch_ingest(client=client, documents=documents)
        elif kind == "resend" and sent:
            # A retry of an earlier log, alone or inside a batch with itself.
            again = sent[arg % len(sent)]
            log_batch_ingest(client=client, documents=[again, again])
        elif kind == "prune":
            days, cutoff = arg  # often inside an hour that holds logs
            Client.objects.filter(pk=client.pk).update(retention_days=days)
            logs_prune(now=cutoff + dt.timedelta(days=days, seconds=3))
            Client.objects.filter(pk=client.pk).update(retention_days=None)
        elif kind == "compact":
            rollups_compact()
        elif kind == "rebuild":
            rollups_rebuild(client_ids=[client.pk])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations, spans=windows, final_compaction=st.booleans())
def test_every_figure_equals_a_recount_after_any_writes(db, ops, spans, final_compaction):
    with transaction.atomic():
        # Months of their own for the older logs, so pruning can drop whole partitions
        # (PostgreSQL; a no-op on SQLite).
        for month in (8, 9, 10):
            partitions.partition_create(dt.datetime(2026, month, 1, tzinfo=UTC))
        clients = [ClientFactory(slug="hypo-a"), ClientFactory(slug="hypo-b")]
        run_operations(clients, ops)
        if final_compaction:
            rollups_compact(passes=1000)
        checked = [
            reads.Span(NOW + dt.timedelta(minutes=start), NOW + dt.timedelta(minutes=start + n))
            for start, n in spans
        ] + [reads.Span(NOW - dt.timedelta(days=400), NOW + dt.timedelta(days=2))]
        for client in clients:
            check_exact(client, checked)
        # Every stored log has one receipt, and no receipt outlives its log.
        assert LogReceipt.objects.count() == WorkflowLog.objects.count()
        transaction.set_rollback(True)


def _spec(**overrides: Any) -> dict[str, Any]:
    spec = {
        "log_id": uuid.uuid4(),
        "timestamp": NOW - dt.timedelta(hours=3),
        "environment": "production",
        "version": "v1.0",
        "status": "SUCCESS",
        "seconds": 4.0,
        "confidence": 0.8,
        "risk": 0.1,
        "iterations": 3,
        "error": None,
    }
    return spec | overrides


def test_a_window_off_the_hour_counts_its_edges_from_raw_logs(client_a):
    for minute in (5, 35, 55):
        log_ingest(client=client_a, document=document(_spec(timestamp=NOW.replace(minute=minute))))
    span = reads.Span(NOW.replace(minute=30), NOW + dt.timedelta(hours=1, minutes=40))
    (totals,) = reads.totals(reads.Scope(client_id=client_a.pk), [span])
    assert totals["runs"] == 2  # :35 and :55, not :05


def test_a_snapshot_reads_each_edge_once_and_keeps_each_scope_apart(client_a, client_b):
    """The edges a page's figures share are read once in its snapshot, and what the
    later reads get (all columns, some, with the client) is what reading again gives;
    another client's or another filter's edges are never taken from the kept rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for client, minutes in ((client_a, (5, 35, 55)), (client_b, (40,))):
        for minute in minutes:
            log_ingest(
                client=client,
                document=document(_spec(timestamp=NOW.replace(minute=minute))),
            )
    log_ingest(
        client=client_a,
        document=document(_spec(timestamp=NOW.replace(minute=45), environment="staging")),
    )
    edge = reads.Span(NOW.replace(minute=30), NOW + dt.timedelta(hours=1))
    scope_a, scope_b = reads.Scope(client_id=client_a.pk), reads.Scope(client_id=client_b.pk)
    staging = reads.Scope(client_id=client_a.pk, environment="staging")
    some = frozenset({"timestamp", "status"})

    def fresh(scope, **options):  # outside any snapshot: a query every time
        return sorted(reads._raw_facts(scope, [edge], **options), key=repr)

    expected = {
        "all": fresh(scope_a),
        "some": fresh(scope_a, columns=some),
        "client": fresh(scope_a, with_client=True),
    }
    assert len(expected["all"]) == 3
    assert {row[3] for row in expected["some"]} == {"SUCCESS"}
    assert {row[1] for row in expected["some"]} == {None}  # environment blanked
    with reads.read_snapshot(), CaptureQueriesContext(connection) as queries:
        first = sorted(reads._raw_facts(scope_a, [edge]), key=repr)
        again = sorted(reads._raw_facts(scope_a, [edge, edge]), key=repr)
        partial = sorted(reads._raw_facts(scope_a, [edge], columns=some), key=repr)
        with_client = sorted(reads._raw_facts(scope_a, [edge], with_client=True), key=repr)
        other = reads._raw_facts(scope_b, [edge])
        filtered = reads._raw_facts(staging, [edge])
    edge_reads = [q for q in queries.captured_queries if "workflowlog" in q["sql"]]
    assert len(edge_reads) == 3  # client A, client B, A in staging: once each
    assert first == again == expected["all"]
    assert partial == expected["some"]
    assert with_client == expected["client"]
    assert [row[0] for row in other] == [NOW.replace(minute=40)]
    assert [row[0] for row in filtered] == [NOW.replace(minute=45)]
    # A new snapshot reads again: a log stored since is counted.
    log_ingest(client=client_a, document=document(_spec(timestamp=NOW.replace(minute=50))))
    with reads.read_snapshot():
        assert len(reads._raw_facts(scope_a, [edge])) == 4


def test_daily_buckets_in_a_half_hour_time_zone_are_exact(client_a):
    """India is UTC+5:30: every local day starts and ends inside a UTC hour."""
    rng = random.Random(7)
    for _ in range(60):
        moment = NOW - dt.timedelta(minutes=rng.randrange(0, 6 * 24 * 60))
        log_ingest(client=client_a, document=document(_spec(timestamp=moment)))
    zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
    first = (NOW - dt.timedelta(days=6)).astimezone(zone).replace(hour=0, minute=0)
    buckets = [
        reads.Span(first + dt.timedelta(days=d), first + dt.timedelta(days=d + 1)) for d in range(7)
    ]
    got = reads.series(reads.Scope(client_id=client_a.pk), buckets)
    for bucket, totals in zip(buckets, got, strict=True):
        assert_totals_match(totals, recount(client_a.pk, bucket.start, bucket.end))
    assert sum(t["runs"] for t in got) == 60


def test_client_deletion_takes_its_rollups_and_receipts(client_a, client_b):
    for client in (client_a, client_b):
        log_ingest(client=client, document=document(_spec()))
    client_a.delete()
    assert not Rollup.objects.filter(client_id=client_a.pk).exists()
    assert not DurationRollup.objects.filter(client_id=client_a.pk).exists()
    assert not LogReceipt.objects.filter(client_id=client_a.pk).exists()
    assert Rollup.objects.filter(client_id=client_b.pk).exists()


def test_compaction_leaves_one_row_per_key_and_the_same_numbers(client_a):
    for _ in range(5):
        log_ingest(client=client_a, document=document(_spec()))
    span = reads.Span(NOW - dt.timedelta(days=1), NOW)
    scope = reads.Scope(client_id=client_a.pk)
    before = reads.totals(scope, [span])[0].measures
    rows = Rollup.objects.for_client(client_a)
    assert rows.count() == 10  # an hour and a day delta per log
    assert rollups_compact() > 0
    assert rows.count() == 4  # hour and day, for its environment and over all of them
    assert all(rows.values_list("compacted", flat=True))
    assert reads.totals(scope, [span])[0].measures == before


def test_pruning_everything_leaves_no_rollup_rows(client_a):
    for days in (10, 20, 30):
        log_ingest(
            client=client_a, document=document(_spec(timestamp=NOW - dt.timedelta(days=days)))
        )
    Client.objects.filter(pk=client_a.pk).update(retention_days=5)
    report = logs_prune(now=NOW)
    assert report.logs == 3
    assert not WorkflowLog.objects.for_client(client_a).exists()
    assert not Rollup.objects.for_client(client_a).exists()
    assert not DurationRollup.objects.for_client(client_a).exists()


def test_a_dry_run_counts_what_would_go_and_deletes_nothing(client_a):
    for days in (2, 10, 20):
        log_ingest(
            client=client_a, document=document(_spec(timestamp=NOW - dt.timedelta(days=days)))
        )
    Client.objects.filter(pk=client_a.pk).update(retention_days=5)
    report = logs_prune(now=NOW, dry_run=True)
    assert report.logs_by_client == {client_a.slug: 2}
    assert WorkflowLog.objects.for_client(client_a).count() == 3


def test_an_expired_month_is_dropped_whole_and_a_shared_month_is_deleted_in_batches(
    fresh_partitions,
):
    """On PostgreSQL a month whose logs all expired is dropped as a partition; a month that
    also holds logs of a client keeping everything is pruned row by row."""
    keeper = ClientFactory(slug="keeps-all")
    short = ClientFactory(slug="short", retention_days=30)
    old, shared = dt.datetime(2026, 6, 10, tzinfo=UTC), dt.datetime(2026, 7, 10, tzinfo=UTC)
    for month in (old, shared):
        partitions.partition_create(month)
    for moment in (old, old + dt.timedelta(hours=5), shared):
        log_ingest(client=short, document=document(_spec(timestamp=moment)))
    log_ingest(client=keeper, document=document(_spec(timestamp=shared)))
    now = dt.datetime(2026, 11, 20, tzinfo=UTC)
    report = logs_prune(now=now)
    assert report.logs_by_client == {"short": 3}
    names = {p.name for p in partitions.partitions_list()}
    if partitions.is_partitioned():
        assert report.partitions_dropped == [partitions.partition_name(old)]
        assert partitions.partition_name(old) not in names
        assert partitions.partition_name(shared) in names
    else:
        assert report.partitions_dropped == []
    assert not WorkflowLog.objects.for_client(short).exists()
    assert WorkflowLog.objects.for_client(keeper).count() == 1
    whole = reads.Span(now - dt.timedelta(days=400), now)
    for client in (short, keeper):
        (totals,) = reads.totals(reads.Scope(client_id=client.pk), [whole])
        assert_totals_match(totals, recount(client.pk, whole.start, whole.end))


def test_the_rebuild_repairs_rollups_that_drifted(client_a):
    for hours in (1, 30, 80):
        log_ingest(
            client=client_a, document=document(_spec(timestamp=NOW - dt.timedelta(hours=hours)))
        )
    Rollup.objects.for_client(client_a).filter(start__lt=NOW - dt.timedelta(hours=20)).delete()
    Rollup.objects.create(
        client=client_a, grain="D", start=NOW - dt.timedelta(days=300), runs=7, environment=""
    )
    whole = reads.Span(NOW - dt.timedelta(days=400), NOW)
    scope = reads.Scope(client_id=client_a.pk)
    assert reads.totals(scope, [whole])[0]["runs"] != 3
    assert rollups_rebuild(client_ids=[client_a.pk]) == 3
    assert_totals_match(
        reads.totals(scope, [whole])[0], recount(client_a.pk, whole.start, whole.end)
    )


# The duration histogram -------------------------------------------------------------------


@given(st.floats(min_value=0, max_value=DURATION_MAX_SECONDS, allow_nan=False))
def test_every_duration_reads_back_within_the_stated_error(seconds):
    value = duration_value(duration_bucket(seconds))
    assert abs(value - seconds) <= DURATION_RELATIVE_ERROR * seconds + DURATION_MIN_SECONDS


def test_buckets_are_contiguous_and_cover_a_week():
    assert duration_bucket(0) == 0
    assert duration_bucket(DURATION_MIN_SECONDS) == 0
    assert duration_bucket(DURATION_MAX_SECONDS) == DURATION_LAST_BUCKET
    assert duration_bucket(10 * DURATION_MAX_SECONDS) == DURATION_LAST_BUCKET
    previous = 0
    for step in range(1, 4000):
        bucket = duration_bucket(DURATION_MIN_SECONDS * 1.005**step)
        assert bucket in (previous, previous + 1)
        previous = bucket


def _exact_percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@given(
    st.lists(st.floats(min_value=0.01, max_value=3600, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_percentiles_from_the_histogram_are_within_the_stated_error(values, fraction):
    histogram: dict[int, int] = {}
    for value in values:
        histogram[duration_bucket(value)] = histogram.get(duration_bucket(value), 0) + 1
    exact = _exact_percentile(values, fraction)
    estimate = percentile_from_histogram(histogram, fraction)
    assert estimate is not None
    assert abs(estimate - exact) <= DURATION_RELATIVE_ERROR * exact * (1 + 1e-9)


def test_a_histogram_of_nothing_has_no_percentile():
    assert percentile_from_histogram({}, 0.5) is None
    assert percentile_from_histogram({12: 0}, 0.5) is None


def test_facts_ignore_timestamps_in_the_current_time_zone(client_a, settings):
    """Rollup hours are UTC whatever TIME_ZONE is."""
    settings.TIME_ZONE = "Asia/Kolkata"
    timezone.activate("Asia/Kolkata")
    try:
        log_ingest(client=client_a, document=document(_spec(timestamp=NOW.replace(minute=40))))
    finally:
        timezone.deactivate()
    rows = Rollup.objects.for_client(client_a)
    assert rows.get(grain="h").start == NOW.replace(minute=0)
    assert rows.get(grain="d").start == NOW.replace(hour=0, minute=0)


@pytest.mark.django_db(transaction=True)
def test_a_background_compactor_merges_what_ingestion_wrote(settings):
    """Ingestion wakes a compactor thread in its process; the rows it wrote are merged
    without anyone calling compaction, and the numbers do not change."""
    import time

    from collector.readmodel import writes

    settings.ROLLUP_COMPACT_INTERVAL_SECONDS = 0
    client = ClientFactory(slug="compacted")
    for _ in range(3):
        log_ingest(client=client, document=document(_spec()))
    rows = Rollup.objects.for_client(client)
    deadline = time.monotonic() + 20
    while rows.filter(compacted=False).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not rows.filter(compacted=False).exists()
    assert rows.filter(grain="D").get().runs == 3
    assert writes._compactor is not None and writes._compactor.is_alive()


@pytest.mark.parametrize("minutes", [7, 23, 47])
def test_the_overview_totals_of_every_client_equal_a_recount(client_a, client_b, minutes):
    """Rolling windows whose starts cut through busy hours, a few measures read (the
    overview's), and an edge shared by all windows (the current partial hour); edges read
    raw or as their hour minus the rest of it, whichever is less to read."""
    rng = random.Random(3)
    now = NOW + dt.timedelta(minutes=minutes, seconds=17)
    for client in (client_a, client_b):
        for _ in range(80):
            back = rng.choice([0, 24, 7 * 24, 30 * 24]) * 60 + rng.randrange(-70, 50)
            spec = _spec(
                timestamp=now - dt.timedelta(minutes=back, seconds=rng.randrange(60)),
                status=rng.choice(["SUCCESS", "FAILED"]),
                confidence=rng.choice([None, rng.random()]),
                error=rng.choice(ERRORS),
                environment=rng.choice(ENVIRONMENTS),
            )
            log_ingest(client=client, document=document(spec))
    spans = {
        "24h": reads.Span(now - dt.timedelta(hours=24), now),
        "7d": reads.Span(now - dt.timedelta(days=7), now),
        "30d": reads.Span(now - dt.timedelta(days=30), now),
    }
    measures = ("runs", "n_success", "n_with_error", "conf_n", "conf_sum")
    got = reads.totals_by_client([client_a.pk, client_b.pk], spans, measures)
    for client in (client_a, client_b):
        for name, span in spans.items():
            expected = recount(client.pk, span.start, span.end)
            for measure in measures:
                value = got[client.pk][name][measure]
                assert abs(value - expected[measure]) <= 1e-9, (client, name, measure)


def test_a_month_is_dropped_only_if_its_own_logs_say_so_whatever_the_rollups_say(
    fresh_partitions,
):
    """A client keeping everything, whose rollups went missing (a rebuild interrupted),
    still keeps its logs: the partition's contents decide, not the read model."""
    keeper = ClientFactory(slug="keeper-no-rollups")
    short = ClientFactory(slug="short-lived", retention_days=30)
    month = dt.datetime(2026, 5, 10, tzinfo=UTC)
    partitions.partition_create(month)
    for client in (keeper, short):
        log_ingest(client=client, document=document(_spec(timestamp=month)))
    Rollup.objects.for_client(keeper).delete()
    report = logs_prune(now=dt.datetime(2026, 11, 20, tzinfo=UTC))
    name = partitions.partition_name(partitions.month_start(month))
    assert name not in report.partitions_dropped
    assert name in {p.name for p in partitions.partitions_list()} or not partitions.is_partitioned()
    assert WorkflowLog.objects.for_client(keeper).count() == 1
    assert not WorkflowLog.objects.for_client(short).exists()  # deleted in batches instead
    assert LogReceipt.objects.for_client(keeper).count() == 1


def test_the_rebuild_steps_over_empty_years_and_the_end_of_the_calendar(client_a):
    """A clock decades off (year 2999, even 9999) must not make the rebuild walk every day
    in between, nor overflow the calendar."""
    for moment in (
        NOW,
        dt.datetime(2999, 6, 1, 12, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 12, tzinfo=UTC),
    ):
        log_ingest(client=client_a, document=document(_spec(timestamp=moment)))
    chunks = []
    from collector.readmodel import writes

    original = writes._chunk_rebuild

    def counted(**kwargs):
        chunks.append(kwargs["start"])
        return original(**kwargs)

    writes._chunk_rebuild = counted
    try:
        assert rollups_rebuild(client_ids=[client_a.pk]) == 3
    finally:
        writes._chunk_rebuild = original
    assert len(chunks) == 3
    whole = reads.Span(NOW - dt.timedelta(days=1), dt.datetime(9999, 12, 31, 23, tzinfo=UTC))
    (totals,) = reads.totals(reads.Scope(client_id=client_a.pk), [whole])
    assert totals["runs"] == 3
