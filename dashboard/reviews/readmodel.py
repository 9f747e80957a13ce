"""Verdict counts in the read model: written with the verdicts, read by the dashboards
and the monitors at a cost bounded by the window, never by the number of logs.

``VerdictRollup`` holds, per (client, UTC hour "h" or day "d", environment, version, log
status, verdict kind, confidence bucket), how many current verdicts there are. Writers
(``verdict_counts_apply``) upsert the difference they make in the transaction that
changes the verdicts: a recorded verdict +1, a change of kind -1 old +1 new, a verdict
deleted by retention -1. A window [start, end) is read as the collector's read model
reads one (``collector.readmodel.reads.cover``): day rows for its whole UTC days, hour
rows for its other whole hours, and the Verdict table itself for the sub-hour edges
(through its (client, timestamp) index; verdicts are made by people, so an edge holds a
handful). ``verdict_counts_rebuild`` recounts a client's rows from its verdicts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q, Sum

from collector.readmodel.facts import CALIBRATION_BUCKETS, calibration_bucket, hour_floor
from collector.readmodel.reads import Scope, Span, cover
from dashboard.reviews.models import Verdict, VerdictKind, VerdictRollup

# pg_advisory_xact_lock key space of the verdict counts (one lock per client): writers
# take it shared (they never wait on one another), the rebuild exclusive.
VERDICT_LOCK_KEY = 0x56657264  # "Verd"
# The bucket of a run without a confidence (never in the calibration chart).
NO_BUCKET = -1
# Rows per upsert statement: bounds the statement's size (a prune's batch of verdicts).
UPSERT_CHUNK = 500

# What a verdict is counted by, in this order (the columns the edges select).
FACT_FIELDS = (
    "timestamp",
    "environment",
    "workflow_version",
    "status",
    "kind",
    "overall_confidence",
)


@dataclass(frozen=True)
class VerdictFacts:
    """The columns of one verdict that its counts are keyed by."""

    timestamp: dt.datetime
    environment: str
    workflow_version: str
    status: str
    kind: str
    overall_confidence: float | None

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictFacts:
        return cls(*(getattr(verdict, name) for name in FACT_FIELDS))

    @property
    def bucket(self) -> int:
        if self.overall_confidence is None:
            return NO_BUCKET
        return calibration_bucket(self.overall_confidence)


def _keys(facts: VerdictFacts) -> list[tuple]:
    hour = hour_floor(facts.timestamp)
    rest = (facts.environment, facts.workflow_version, facts.status, facts.kind, facts.bucket)
    return [("h", hour, *rest), ("d", hour.replace(hour=0), *rest)]


@contextlib.contextmanager
def _client_lock(client_id: int, *, shared: bool) -> Iterator[None]:
    """The client's verdict-count lock for the rest of the transaction (PostgreSQL; SQLite
    serialises writers by itself). A rebuild holds it alone, so a verdict recorded
    meanwhile is either in its recount or added to its rows, never both or neither."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s, %s)", [VERDICT_LOCK_KEY, client_id])
    yield


_COLUMNS = ("grain", "start", "environment", "workflow_version", "status", "kind", "bucket")


def _upsert_sql(rows: int) -> str:
    table = VerdictRollup._meta.db_table
    target = ", ".join(("client_id", *_COLUMNS))
    values = ", ".join(["(" + ", ".join(["%s"] * (len(_COLUMNS) + 2)) + ")"] * rows)
    return (
        f"INSERT INTO {table} ({target}, n) VALUES {values} "  # noqa: S608 (names from model metadata)
        f"ON CONFLICT ({target}) DO UPDATE SET n = {table}.n + excluded.n"
    )


def verdict_counts_apply(*, client_id: int, changes: Iterable[tuple[VerdictFacts, int]]) -> None:
    """Add each (verdict, sign) to the counts; call in the transaction that wrote them.

    One upsert per chunk of keys, in key order (two writers touching the same keys take
    their row locks in the same order, so they cannot deadlock on them).
    """
    deltas: Counter[tuple] = Counter()
    for facts, sign in changes:
        for key in _keys(facts):
            deltas[key] += sign
    rows = sorted((key, n) for key, n in deltas.items() if n)
    if not rows:
        return
    assert transaction.get_connection().in_atomic_block, "call inside the verdicts' transaction"
    adapt = connection.ops.adapt_datetimefield_value
    with _client_lock(client_id, shared=True), connection.cursor() as cursor:
        for offset in range(0, len(rows), UPSERT_CHUNK):
            chunk = rows[offset : offset + UPSERT_CHUNK]
            params: list = []
            for (grain, start, *rest), n in chunk:
                params += [client_id, grain, adapt(start), *rest, n]
            cursor.execute(_upsert_sql(len(chunk)), params)


def verdict_counts_rebuild(*, client_ids: Iterable[int]) -> int:
    """Recount the clients' verdict counts from their verdicts (one transaction per
    client, under its lock); returns the verdicts counted."""
    counted = 0
    for client_id in client_ids:
        with transaction.atomic(), _client_lock(client_id, shared=False):
            VerdictRollup.objects.for_client(client_id).delete()
            deltas: Counter[tuple] = Counter()
            verdicts = Verdict.objects.for_client(client_id).order_by().values_list(*FACT_FIELDS)
            for values in verdicts.iterator(chunk_size=5000):
                for key in _keys(VerdictFacts(*values)):
                    deltas[key] += 1
                counted += 1
            VerdictRollup.objects.bulk_create(
                [
                    VerdictRollup(client_id=client_id, **dict(zip(_COLUMNS, key, strict=True)), n=n)
                    for key, n in deltas.items()
                ],
                batch_size=1000,
            )
    return counted


# Reads ----------------------------------------------------------------------------------


@dataclass
class VerdictCounts:
    """Current verdicts in a window, per (log status, verdict kind, confidence bucket)."""

    cells: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def add(self, status: str, kind: str, bucket: int, n: int) -> None:
        if n:
            self.cells[(status, kind, bucket)] += n

    def merge(self, other: VerdictCounts) -> None:
        self.cells.update(other.cells)

    def count(self, *, status: str | None = None, kind: str | None = None) -> int:
        return sum(
            n
            for (cell_status, cell_kind, _), n in self.cells.items()
            if (status is None or cell_status == status) and (kind is None or cell_kind == kind)
        )

    @property
    def reviewed(self) -> int:
        return self.count()

    @property
    def judged_correct(self) -> int:
        return self.count(kind=VerdictKind.CORRECT)

    def calibration(self) -> list[tuple[int, int]]:
        """(reviewed, judged correct) per confidence bucket, the runs without one left out."""
        found = [[0, 0] for _ in range(CALIBRATION_BUCKETS)]
        for (_, kind, bucket), n in self.cells.items():
            if bucket != NO_BUCKET:
                found[bucket][0] += n
                if kind == VerdictKind.CORRECT:
                    found[bucket][1] += n
        return [(reviewed, correct) for reviewed, correct in found]


def _edge_q(edges: Iterable[Span]) -> Q:
    condition = Q(pk__in=[])
    for edge in edges:
        condition |= Q(timestamp__gte=edge.start, timestamp__lt=edge.end)
    return condition


def verdict_totals(scope: Scope, spans: Sequence[Span]) -> list[VerdictCounts]:
    """The verdict counts of each span, exactly: a rollup query per span, one edge read."""
    results = [VerdictCounts() for _ in spans]
    covers = [cover(span) for span in spans]
    for index, part in enumerate(covers):
        if part.empty:
            continue
        rows = (
            scope.filter(VerdictRollup.objects.filter(part.condition()))
            .values_list("status", "kind", "bucket")
            .annotate(total=Sum("n"))
            .order_by()
        )
        for status, kind, bucket, total in rows:
            results[index].add(status, kind, bucket, total)
    edges = {edge for part in covers for edge in part.edges}
    if edges:
        verdicts = scope.filter(Verdict.objects.filter(_edge_q(edges))).values_list(*FACT_FIELDS)
        for values in verdicts.order_by():
            facts = VerdictFacts(*values)
            for index, part in enumerate(covers):
                if any(edge.start <= facts.timestamp < edge.end for edge in part.edges):
                    results[index].add(facts.status, facts.kind, facts.bucket, 1)
    return results


def verdict_totals_by_client_environment(
    client_ids: Sequence[int], spans: dict[str, Span]
) -> dict[tuple[int, str], dict[str, VerdictCounts]]:
    """Verdict counts per (client, environment) and named span (the monitors, unscoped):
    one rollup query per span for every client together, one read of the edges. Only
    pairs with a verdict in some span are present."""
    scope = Scope(client_id=None, client_ids=tuple(client_ids))
    found: dict[tuple[int, str], dict[str, VerdictCounts]] = {}

    def slot(key: tuple[int, str], name: str) -> VerdictCounts:
        spans_of = found.get(key)
        if spans_of is None:
            spans_of = found[key] = {n: VerdictCounts() for n in spans}
        return spans_of[name]

    if not client_ids or not spans:
        return found
    covers = {name: cover(span) for name, span in spans.items()}
    for name, part in covers.items():
        if part.empty:
            continue
        rows = (
            scope.filter(VerdictRollup.objects.filter(part.condition()))
            .values_list("client_id", "environment", "status", "kind", "bucket")
            .annotate(total=Sum("n"))
            .order_by()
        )
        for client_id, environment, status, kind, bucket, total in rows:
            if total:
                slot((client_id, environment), name).add(status, kind, bucket, total)
    edges = {edge for part in covers.values() for edge in part.edges}
    if edges:
        verdicts = scope.filter(Verdict.objects.filter(_edge_q(edges))).values_list(
            "client_id", *FACT_FIELDS
        )
        for client_id, *values in verdicts.order_by():
            facts = VerdictFacts(*values)
            for name, part in covers.items():
                if any(edge.start <= facts.timestamp < edge.end for edge in part.edges):
                    slot((client_id, facts.environment), name).add(
                        facts.status, facts.kind, facts.bucket, 1
                    )
    return found


def verdict_series(scope: Scope, buckets: Sequence[Span]) -> list[VerdictCounts]:
    """The verdict counts of each chart bucket (consecutive spans): one rollup query for
    every bucket's whole days and hours, one read of their sub-hour edges."""
    results = [VerdictCounts() for _ in buckets]
    slots: dict[tuple[str, dt.datetime], int] = {}
    condition = Q(pk__in=[])
    edges: list[tuple[Span, int]] = []
    for index, bucket in enumerate(buckets):
        part = cover(bucket)
        whole = [("d", part.days, dt.timedelta(days=1))] if part.days is not None else []
        whole += [("h", hours, dt.timedelta(hours=1)) for hours in part.hours]
        for grain, span, step in whole:
            condition |= Q(grain=grain, start__gte=span.start, start__lt=span.end)
            moment = span.start
            while moment < span.end:
                slots[(grain, moment)] = index
                moment += step
        edges += [(edge, index) for edge in part.edges]
    if slots:
        rows = (
            scope.filter(VerdictRollup.objects.filter(condition))
            .values_list("grain", "start", "status", "kind", "bucket")
            .annotate(total=Sum("n"))
            .order_by()
        )
        for grain, start, status, kind, bucket, total in rows:
            index = slots.get((grain, start))
            if index is not None:
                results[index].add(status, kind, bucket, total)
    if edges:
        condition = _edge_q(edge for edge, _ in edges)
        verdicts = scope.filter(Verdict.objects.filter(condition)).values_list(*FACT_FIELDS)
        for values in verdicts.order_by():
            facts = VerdictFacts(*values)
            for edge, index in edges:
                if edge.start <= facts.timestamp < edge.end:
                    results[index].add(facts.status, facts.kind, facts.bucket, 1)
    return results
