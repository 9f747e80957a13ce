"""Reads of the read model: exact figures over any window, at a cost flat in data size.

A window [start, end) is answered from the day rows of the whole UTC days inside it, the
hour rows of the other whole hours, and from the raw logs for what is left at its edges:
less than an hour at each end, read through the log table's (client, timestamp) index and
counted by the same ``Tally`` as ingestion. A chart bucket that does not fall on hour
boundaries (a day in a time zone with a half-hour offset) has edges of the same kind. So
a page reads a number of rows bounded by its window's length and the client's hourly
rate, never by the number of logs stored.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import router
from django.db.models import Max, Min, Q, QuerySet, Sum

from collector.models import DurationRollup, ErrorRollup, Rollup, WorkflowLog
from collector.readmodel.facts import (
    FACT_COLUMNS,
    HOURLY_MEASURES,
    LogFacts,
    contributions,
    day_ceil,
    day_floor,
    duration_bucket,
    fact_columns_for,
    hour_ceil,
    hour_floor,
)
from collector.readmodel.writes import snapshot_transaction

HOUR = dt.timedelta(hours=1)


@contextlib.contextmanager
def read_snapshot() -> Iterator[None]:
    """The reads of one page in one snapshot (REPEATABLE READ, read only).

    A page adds rollup rows, pending deltas and raw edges from several statements; each in
    its own snapshot, a log committed between two of them could be counted by neither or,
    where an edge is subtracted from its hour, subtracted without being added. Works on a
    hot standby too. Nested in a caller's transaction (tests), that one's snapshot holds.
    """
    with snapshot_transaction(router.db_for_read(Rollup) or "default", read_only=True):
        if _edge_rows.get() is not None:  # nested: the outer snapshot's rows hold
            yield
            return
        token = _edge_rows.set({})
        try:
            yield
        finally:
            _edge_rows.reset(token)


# The raw edge rows read in the current snapshot: by scope, the spans read and their rows.
# A page reads the same edges for its totals, its series, its error groups and its
# histograms; in one snapshot they are the same rows, so an edge is read once. Set only
# inside read_snapshot (one request's block: a context variable is a thread's own) and
# gone when the block ends.
_edge_rows: contextvars.ContextVar[dict[Scope, list[tuple[Span, list[tuple]]]] | None] = (
    contextvars.ContextVar("flusso_edge_rows", default=None)
)


@dataclass(frozen=True)
class Span:
    """A half-open time range [start, end)."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Scope:
    """Whose logs: one client, or several (the owner's overview), and optional filters."""

    client_id: int | None
    environment: str = ""
    version: str = ""
    # For several clients: naming them lets every (client, ...) index serve the query.
    client_ids: tuple[int, ...] = ()

    @property
    def all_dimensions(self) -> bool:
        """Whether this scope reads the rows over all environments and versions."""
        return not (self.environment or self.version)

    def filter(self, queryset: QuerySet) -> QuerySet:
        if self.client_id is not None:
            queryset = queryset.for_client(self.client_id)
        elif self.client_ids:
            queryset = queryset.for_clients(self.client_ids)
        if self.environment:
            queryset = queryset.filter(environment=self.environment)
        if self.version:
            queryset = queryset.filter(workflow_version=self.version)
        return queryset


@dataclass
class Totals:
    """Summed hourly measures (``HOURLY_MEASURES``) and the newest timestamp."""

    measures: dict[str, float] = field(default_factory=lambda: dict.fromkeys(HOURLY_MEASURES, 0))
    last_at: dt.datetime | None = None

    def __getitem__(self, name: str) -> float:
        return self.measures[name]

    def add_log(self, facts: LogFacts) -> None:
        """One raw log (an edge), counted as ingestion counts it."""
        measures = self.measures
        for name, value in contributions(facts):
            measures[name] += value
        if self.last_at is None or facts.timestamp > self.last_at:
            self.last_at = facts.timestamp

    def add(
        self, measures: dict[str, float | None], last_at: dt.datetime | None, sign: int = 1
    ) -> None:
        for name in HOURLY_MEASURES:
            self.measures[name] += sign * (measures.get(name) or 0)
        if last_at is not None and (self.last_at is None or last_at > self.last_at):
            self.last_at = last_at


def grain_q(grain: str, all_dims: bool, **bounds: object) -> Q:
    """Rows of a grain ("h" or "d") within ``bounds``.

    Over all environments (``all_dims``): the compacted upper-case rows, and the
    per-environment deltas not folded into them yet (compaction moves a delta into both
    in one statement, so each counts once). Each arm of the OR carries the bounds itself,
    so PostgreSQL reads each from an index range (the compacted rows from the read index,
    the pending deltas from the partial one) instead of the grain's whole history.
    """
    if not all_dims:
        return Q(grain=grain, **bounds)
    return Q(grain=grain.upper(), **bounds) | Q(grain=grain, compacted=False, **bounds)


@dataclass(frozen=True)
class Cover:
    """How a span is read: whole UTC days (day rows), whole hours beside them (hour rows),
    and the sub-hour edges (raw logs)."""

    days: Span | None
    hours: tuple[Span, ...]
    edges: tuple[Span, ...]

    def condition(self, all_dims: bool = False) -> Q:
        condition = Q(pk__in=[])
        if self.days is not None:
            condition |= grain_q("d", all_dims, start__gte=self.days.start, start__lt=self.days.end)
        for hours in self.hours:
            condition |= grain_q("h", all_dims, start__gte=hours.start, start__lt=hours.end)
        return condition

    @property
    def empty(self) -> bool:
        return self.days is None and not self.hours


def cover(span: Span) -> Cover:
    hour_start, hour_end = hour_ceil(span.start), hour_floor(span.end)
    if hour_start >= hour_end:
        return Cover(None, (), (span,) if span.start < span.end else ())
    edges = []
    if span.start < hour_start:
        edges.append(Span(span.start, hour_start))
    if hour_end < span.end:
        edges.append(Span(hour_end, span.end))
    day_start, day_end = day_ceil(span.start), day_floor(span.end)
    if day_start >= day_end:
        return Cover(None, (Span(hour_start, hour_end),), tuple(edges))
    hours = []
    if hour_start < day_start:
        hours.append(Span(hour_start, day_start))
    if day_end < hour_end:
        hours.append(Span(day_end, hour_end))
    return Cover(Span(day_start, day_end), tuple(hours), tuple(edges))


def _merged(spans: Iterable[Span]) -> list[Span]:
    """Adjacent or overlapping spans joined: fewer ranges in a query."""
    result: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if result and span.start <= result[-1].end:
            result[-1] = Span(result[-1].start, max(result[-1].end, span.end))
        else:
            result.append(span)
    return result


# What a column not selected reads as in LogFacts: counted as absent.
_BLANK = {"status": "", "error_type": "", "error_node": ""}


def _raw_rows(scope: Scope, spans: Sequence[Span]) -> list[tuple]:
    """(client_id, *FACT_COLUMNS) of the raw logs in the spans."""
    condition = Q()
    for span in spans:
        condition |= Q(timestamp__gte=span.start, timestamp__lt=span.end)
    logs = scope.filter(WorkflowLog.objects.filter(condition)).order_by()
    return list(logs.values_list("client_id", *FACT_COLUMNS))


def _kept_or_read(
    read: list[tuple[Span, list[tuple]]], scope: Scope, spans: Sequence[Span]
) -> list[list[tuple]]:
    """The rows of each span: from a span read before that holds it, else read (all the
    missing spans in one query) and kept in ``read``."""
    pieces: list[list[tuple]] = []
    missing: list[Span] = []
    for span in spans:
        held = next(
            (rows for seen, rows in read if seen.start <= span.start and span.end <= seen.end), None
        )
        if held is None:
            missing.append(span)
        else:
            pieces.append([row for row in held if span.start <= row[1] < span.end])
    if missing:
        found: dict[Span, list[tuple]] = {span: [] for span in missing}
        starts = [span.start for span in missing]
        for row in _raw_rows(scope, missing):
            found[missing[bisect.bisect_right(starts, row[1]) - 1]].append(row)
        read.extend(found.items())
        pieces.extend(found.values())
    return pieces


def _raw_facts(
    scope: Scope,
    edges: Sequence[Span],
    *,
    with_client: bool = False,
    columns: frozenset[str] | None = None,
) -> list[tuple]:
    """LogFacts values of the raw logs in the edges (each shorter than an hour), each log
    once however many edges hold it.

    ``columns``: only these are kept; the others come back blank, which no measure counts.
    Inside read_snapshot, a span that lies inside one read before in the same snapshot
    (for the same scope) is taken from that read's rows instead of read again.
    """
    if not edges:
        return []
    spans = _merged(edges)  # disjoint, so no log is in two of them
    cache = _edge_rows.get()
    if cache is None:
        pieces = [_raw_rows(scope, spans)]
    else:
        pieces = _kept_or_read(cache.setdefault(scope, []), scope, spans)
    # Each fact column's place in a row, or its blank when it is not kept.
    shape = [
        (index, None) if columns is None or column in columns else (None, _BLANK.get(column))
        for index, column in enumerate(FACT_COLUMNS, start=1)
    ]
    result = []
    for rows in pieces:
        for row in rows:
            if columns is None:
                values = row[1:]
            else:
                values = tuple(blank if index is None else row[index] for index, blank in shape)
            result.append((row[0], *values) if with_client else values)
    return result


def _plain_sums(measures: Sequence[str]) -> dict:
    # One query per span with plain sums: conditional aggregates (SUM ... FILTER) for
    # several spans in one query cost ten times more, in SQL compilation and execution.
    return {name: Sum(name) for name in measures} | {"newest": Max("last_at")}


def _in_edges(moment: dt.datetime, edges: Sequence[Span]) -> bool:
    return any(edge.start <= moment < edge.end for edge in edges)


def _edge_pieces(facts: list[tuple], edges: set[Span], *, offset: int = 0) -> dict:
    """Totals per (client or None, edge): each distinct edge counted once, however many
    spans share it (the current partial hour ends every rolling window)."""
    ordered = sorted(edges, key=lambda edge: edge.start)
    pieces: dict[tuple[int | None, Span], Totals] = {}
    for values in facts:
        moment = values[offset]
        key_client = values[0] if offset else None
        for edge in ordered:
            if edge.start <= moment < edge.end:
                piece = pieces.get((key_client, edge))
                if piece is None:
                    piece = pieces[(key_client, edge)] = Totals()
                piece.add_log(LogFacts(*values[offset:]))
    return pieces


def totals(scope: Scope, spans: Sequence[Span]) -> list[Totals]:
    """The summed measures of each span, exactly: a rollup query per span, one edge scan."""
    results = [Totals() for _ in spans]
    covers = [cover(span) for span in spans]
    for index, part in enumerate(covers):
        if not part.empty:
            row = scope.filter(
                Rollup.objects.filter(part.condition(scope.all_dimensions))
            ).aggregate(**_plain_sums(HOURLY_MEASURES))
            results[index].add(row, row["newest"])
    edges = {edge for part in covers for edge in part.edges}
    pieces = _edge_pieces(_raw_facts(scope, list(edges)), edges)
    for index, part in enumerate(covers):
        for edge in part.edges:
            piece = pieces.get((None, edge))
            if piece is not None:
                results[index].add(piece.measures, piece.last_at)
    return results


def _by_complement(part: Cover) -> tuple[Cover, tuple[Span, ...]]:
    """The same figures with less to read raw: an edge that covers most of its hour is
    read as the whole hour's row minus the raw logs of the rest of that hour.

    The current partial hour ends every rolling window, and the rest of it is later than
    now: usually empty. Sums only: a maximum (the newest timestamp) cannot be subtracted.
    """
    hours, edges, minus = list(part.hours), [], []
    for edge in part.edges:
        hour = hour_floor(edge.start)
        whole = Span(hour, hour + HOUR)
        if edge.end <= whole.end and (edge.start == whole.start or edge.end == whole.end):
            rest = (
                Span(edge.end, whole.end) if edge.start == whole.start else Span(hour, edge.start)
            )
            if rest.end - rest.start < edge.end - edge.start:
                hours.append(whole)
                minus.append(rest)
                continue
        edges.append(edge)
    return Cover(part.days, tuple(hours), tuple(edges)), tuple(minus)


def totals_by_client(
    client_ids: Sequence[int],
    spans: dict[str, Span],
    measures: Sequence[str] = HOURLY_MEASURES,
) -> dict[int, dict[str, Totals]]:
    """The clients' summed measures per named span (the owner's overview, unscoped).

    Sums only (``last_at`` is not meaningful here): an edge covering most of its hour is
    read as the hour minus the rest of it (``_by_complement``).
    """
    scope = Scope(client_id=None, client_ids=tuple(client_ids))
    covers: dict[str, Cover] = {}
    minus: dict[str, tuple[Span, ...]] = {}
    for name, span in spans.items():
        covers[name], minus[name] = _by_complement(cover(span))
    results: dict[int, dict[str, Totals]] = {}

    def slot(client_id: int, name: str) -> Totals:
        found = results.get(client_id)
        if found is None:
            found = results[client_id] = {n: Totals() for n in spans}
        return found[name]

    for name, part in covers.items():
        if part.empty:
            continue
        rows = (
            scope.filter(Rollup.objects.filter(part.condition(scope.all_dimensions)))
            .values("client_id")
            .annotate(**_plain_sums(measures))
            .order_by()
        )
        for row in rows:
            slot(row["client_id"], name).add(row, None)
    plus_edges = {edge for part in covers.values() for edge in part.edges}
    minus_edges = {edge for spans_ in minus.values() for edge in spans_}
    edges = plus_edges | minus_edges
    facts = _raw_facts(scope, list(edges), with_client=True, columns=fact_columns_for(measures))
    pieces = _edge_pieces(facts, edges, offset=1)
    for (client_id, edge), piece in pieces.items():
        for name, part in covers.items():
            if edge in part.edges:
                slot(client_id, name).add(piece.measures, None)
            if edge in minus[name]:
                slot(client_id, name).add(piece.measures, None, sign=-1)
    return results


@dataclass(frozen=True)
class _BucketPlan:
    """How consecutive chart buckets are read: which rollup row (grain, start) adds to
    which bucket, the condition selecting those rows, and the raw edges."""

    slots: dict[tuple[str, dt.datetime], int]
    condition: Q
    edges: list[Span]
    starts: list[dt.datetime]

    def bucket_of(self, buckets: Sequence[Span], moment: dt.datetime) -> int | None:
        """The bucket a raw edge log at ``moment`` falls in, if any."""
        index = bisect.bisect_right(self.starts, moment) - 1
        return index if index >= 0 and moment < buckets[index].end else None


def _bucket_plan(scope: Scope, buckets: Sequence[Span]) -> _BucketPlan:
    slots: dict[tuple[str, dt.datetime], int] = {}
    day_spans: list[Span] = []
    hour_spans: list[Span] = []
    edges: list[Span] = []
    for index, bucket in enumerate(buckets):
        part = cover(bucket)
        if part.days is not None:
            day_spans.append(part.days)
            _slot_range(slots, "d", part.days, dt.timedelta(days=1), index)
        for hours in part.hours:
            hour_spans.append(hours)
            _slot_range(slots, "h", hours, HOUR, index)
        edges += part.edges
    all_dims = scope.all_dimensions
    condition = Q(pk__in=[])
    for days in _merged(day_spans):
        condition |= grain_q("d", all_dims, start__gte=days.start, start__lt=days.end)
    for hours in _merged(hour_spans):
        condition |= grain_q("h", all_dims, start__gte=hours.start, start__lt=hours.end)
    return _BucketPlan(slots, condition, edges, [bucket.start for bucket in buckets])


def series(scope: Scope, buckets: Sequence[Span]) -> list[Totals]:
    """The summed measures of each chart bucket (consecutive spans, e.g. local days).

    A bucket reads the UTC days wholly inside it from day rows, the other whole hours from
    hour rows, and whatever it holds of an hour it shares with a neighbour (a day in a
    time zone with a half-hour offset) or of the window's partial hours raw.
    """
    results = [Totals() for _ in buckets]
    if not buckets:
        return results
    plan = _bucket_plan(scope, buckets)
    if plan.slots:
        rows = (
            scope.filter(Rollup.objects.filter(plan.condition))
            .values("grain", "start")
            .annotate(**{name: Sum(name) for name in HOURLY_MEASURES}, newest=Max("last_at"))
            .order_by()
        )
        for row in rows:
            index = plan.slots.get((row["grain"].lower(), row["start"]))
            if index is not None:
                results[index].add(row, row["newest"])
    for values in _raw_facts(scope, plan.edges):
        index = plan.bucket_of(buckets, values[0])
        if index is not None:
            results[index].add_log(LogFacts(*values))
    return results


def _slot_range(
    slots: dict[tuple[str, dt.datetime], int],
    grain: str,
    span: Span,
    step: dt.timedelta,
    index: int,
) -> None:
    start = span.start
    while start < span.end:
        slots[(grain, start)] = index
        start += step


def error_groups(scope: Scope, span: Span) -> dict[tuple[str, str], tuple[int, dt.datetime | None]]:
    """Runs and newest time per (error type, error node) in the span."""
    part = cover(span)
    groups: dict[tuple[str, str], list] = {}
    if not part.empty:
        rows = (
            scope.filter(ErrorRollup.objects.filter(part.condition(scope.all_dimensions)))
            .values("error_type", "error_node")
            .annotate(runs=Sum("runs"), last_at=Max("last_at"))
            .order_by()
        )
        for row in rows:
            groups[(row["error_type"], row["error_node"])] = [row["runs"], row["last_at"]]
    for values in _raw_facts(scope, part.edges):
        facts = LogFacts(*values)
        if not (facts.error_type or facts.error_node):
            continue
        entry = groups.setdefault((facts.error_type, facts.error_node), [0, None])
        entry[0] += 1
        if entry[1] is None or facts.timestamp > entry[1]:
            entry[1] = facts.timestamp
    return {key: (runs, last) for key, (runs, last) in groups.items() if runs > 0}


def duration_histograms(scope: Scope, spans: Sequence[Span]) -> list[dict[int, int]]:
    """Runs per duration bucket in each span: days and hours from the rollups, the
    sub-hour edges raw."""
    results: list[dict[int, int]] = [{} for _ in spans]
    covers = [cover(span) for span in spans]
    for index, part in enumerate(covers):
        if part.empty:
            continue
        rows = (
            scope.filter(DurationRollup.objects.filter(part.condition(scope.all_dimensions)))
            .values_list("bucket")
            .annotate(runs=Sum("runs"))
            .order_by()
        )
        results[index] = {bucket: runs for bucket, runs in rows if runs}
    facts = _raw_facts(scope, [edge for part in covers for edge in part.edges])
    seconds_at = FACT_COLUMNS.index("execution_time_seconds")
    for index, part in enumerate(covers):
        for values in facts if part.edges else ():
            seconds = values[seconds_at]
            if seconds is not None and _in_edges(values[0], part.edges):
                bucket = duration_bucket(seconds)
                results[index][bucket] = results[index].get(bucket, 0) + 1
    return results


def dimensions(scope: Scope, span: Span) -> set[tuple[str, str]]:
    """The (environment, version) pairs with runs in the span (the filter menus)."""
    part = cover(span)
    pairs: set[tuple[str, str]] = set()
    if not part.empty:
        rows = (
            scope.filter(Rollup.objects.filter(part.condition()))
            .values("environment", "workflow_version")
            .annotate(runs=Sum("runs"))
            .filter(runs__gt=0)
            .values_list("environment", "workflow_version")
            .order_by()
        )
        pairs.update(rows)
    for values in _raw_facts(scope, part.edges):
        facts = LogFacts(*values)
        pairs.add((facts.environment, facts.workflow_version))
    return pairs


def duration_series(scope: Scope, buckets: Sequence[Span]) -> list[dict[int, int]]:
    """Runs per duration bucket in each chart bucket (consecutive spans): ``series`` for
    the duration histogram, so a p95 chart costs one rollup query and one edge scan
    rather than ``duration_histograms``' query per span."""
    results: list[dict[int, int]] = [{} for _ in buckets]
    if not buckets:
        return results
    plan = _bucket_plan(scope, buckets)
    if plan.slots:
        rows = (
            scope.filter(DurationRollup.objects.filter(plan.condition))
            .values_list("grain", "start", "bucket")
            .annotate(runs=Sum("runs"))
            .order_by()
        )
        for grain, start, bucket, runs in rows:
            index = plan.slots.get((grain.lower(), start))
            if index is not None and runs:
                histogram = results[index]
                histogram[bucket] = histogram.get(bucket, 0) + runs
    seconds_at = FACT_COLUMNS.index("execution_time_seconds")
    columns = frozenset({"timestamp", "execution_time_seconds"})
    for values in _raw_facts(scope, plan.edges, columns=columns):
        index = plan.bucket_of(buckets, values[0])
        seconds = values[seconds_at]
        if index is not None and seconds is not None:
            bucket = duration_bucket(seconds)
            results[index][bucket] = results[index].get(bucket, 0) + 1
    return results


def version_first_hours(scope: Scope, until: dt.datetime | None = None) -> dict[str, dt.datetime]:
    """The start of the earliest UTC hour with runs of each workflow version (before
    ``until``), from the per-version rollups: the day rows find each version's first day,
    then that day's hour rows its first hour. Two queries; the first reads a row per day,
    environment and version of the client's history, never its logs. An empty version (a
    log without one) is not a version and is left out.
    """
    days = Rollup.objects.filter(grain="d", runs__gt=0).exclude(workflow_version="")
    if until is not None:
        days = days.filter(start__lt=until)
    first_days = dict(
        scope.filter(days)
        .values("workflow_version")
        .annotate(first=Min("start"))
        .values_list("workflow_version", "first")
        .order_by()
    )
    if not first_days:
        return {}
    condition = Q(pk__in=[])
    for version, day in first_days.items():
        end = day + dt.timedelta(days=1)
        if until is not None:
            end = min(end, until)
        condition |= Q(workflow_version=version, start__gte=day, start__lt=end)
    hours = dict(
        scope.filter(Rollup.objects.filter(condition, grain="h", runs__gt=0))
        .values("workflow_version")
        .annotate(first=Min("start"))
        .values_list("workflow_version", "first")
        .order_by()
    )
    result = {}
    for version, day in first_days.items():
        if version in hours:
            result[version] = hours[version]
        elif until is None or day + dt.timedelta(days=1) <= until:
            # A day row without its hour rows (pruned by retention) still dates it.
            result[version] = day
        # Otherwise its first runs that day came at or after ``until``: not seen yet.
    return result


# Per (client, environment), for many clients at once: the monitors' reads ----------------

ClientEnvironment = tuple[int, str]


def _edge_facts_by_client_environment(
    client_ids: Sequence[int], edges: set[Span], measures: Sequence[str]
) -> dict[tuple[int, str, Span], list[LogFacts]]:
    """The raw logs of each edge, per (client, environment): one scan for all edges."""
    if not edges:
        return {}
    scope = Scope(client_id=None, client_ids=tuple(client_ids))
    facts = _raw_facts(scope, list(edges), with_client=True, columns=fact_columns_for(measures))
    ordered = sorted(edges, key=lambda edge: edge.start)
    found: dict[tuple[int, str, Span], list[LogFacts]] = {}
    for values in facts:
        log = LogFacts(*values[1:])
        for edge in ordered:
            if edge.start <= log.timestamp < edge.end:
                found.setdefault((values[0], log.environment, edge), []).append(log)
    return found


def totals_by_client_environment(
    client_ids: Sequence[int],
    spans: dict[str, Span],
    measures: Sequence[str] = HOURLY_MEASURES,
) -> dict[ClientEnvironment, dict[str, Totals]]:
    """Summed measures per (client, environment) and named span (the monitors, unscoped).

    One rollup query per span grouped by client and environment, one raw scan for every
    span's sub-hour edges, whatever the number of clients. Sums only (``last_at`` is not
    filled): an edge covering most of its hour is read as the hour minus the rest of it.
    Only pairs with a row in some span are present.
    """
    return windows_by_client_environment(client_ids, spans, {}, measures)[0]


def duration_histograms_by_client_environment(
    client_ids: Sequence[int], spans: dict[str, Span]
) -> dict[ClientEnvironment, dict[str, dict[int, int]]]:
    """Runs per duration bucket per (client, environment) and named span: one rollup
    query per span, one raw scan for the edges (read by complement, as totals are)."""
    return windows_by_client_environment(client_ids, {}, spans, ())[1]


def windows_by_client_environment(
    client_ids: Sequence[int],
    spans: dict[str, Span],
    histogram_spans: dict[str, Span],
    measures: Sequence[str] = HOURLY_MEASURES,
) -> tuple[
    dict[ClientEnvironment, dict[str, Totals]],
    dict[ClientEnvironment, dict[str, dict[int, int]]],
]:
    """``totals_by_client_environment`` of ``spans`` and
    ``duration_histograms_by_client_environment`` of ``histogram_spans`` together, with
    one raw scan for the edges of both (the monitors read the same windows for both)."""
    scope = Scope(client_id=None, client_ids=tuple(client_ids))
    covers: dict[str, Cover] = {}
    minus: dict[str, tuple[Span, ...]] = {}
    for name, span in spans.items():
        covers[name], minus[name] = _by_complement(cover(span))
    histogram_covers: dict[str, Cover] = {}
    histogram_minus: dict[str, tuple[Span, ...]] = {}
    for name, span in histogram_spans.items():
        histogram_covers[name], histogram_minus[name] = _by_complement(cover(span))
    totals: dict[ClientEnvironment, dict[str, Totals]] = {}
    histograms: dict[ClientEnvironment, dict[str, dict[int, int]]] = {}

    def slot(key: ClientEnvironment, name: str) -> Totals:
        found = totals.get(key)
        if found is None:
            found = totals[key] = {n: Totals() for n in spans}
        return found[name]

    def histogram_slot(key: ClientEnvironment, name: str) -> dict[int, int]:
        found = histograms.get(key)
        if found is None:
            found = histograms[key] = {n: {} for n in histogram_spans}
        return found[name]

    for name, part in covers.items():
        if part.empty:
            continue
        rows = (
            scope.filter(Rollup.objects.filter(part.condition(all_dims=False)))
            .values("client_id", "environment")
            .annotate(**_plain_sums(measures))
            .order_by()
        )
        for row in rows:
            # Only the measures read (adding all of them per row is most of the cost).
            target = slot((row["client_id"], row["environment"]), name).measures
            for measure in measures:
                target[measure] += row[measure] or 0
    for name, part in histogram_covers.items():
        if part.empty:
            continue
        buckets = (
            scope.filter(DurationRollup.objects.filter(part.condition(all_dims=False)))
            .values_list("client_id", "environment", "bucket")
            .annotate(runs=Sum("runs"))
            .order_by()
        )
        for client_id, environment, bucket, runs in buckets:
            if runs:
                histogram = histogram_slot((client_id, environment), name)
                histogram[bucket] = histogram.get(bucket, 0) + runs
    edges = {edge for part in (*covers.values(), *histogram_covers.values()) for edge in part.edges}
    edges |= {edge for spans_ in (*minus.values(), *histogram_minus.values()) for edge in spans_}
    read = (*measures, "exec_n") if histogram_spans else measures  # exec_n: the durations
    pieces = _edge_facts_by_client_environment(client_ids, edges, read)
    for (client_id, environment, edge), logs in pieces.items():
        key = (client_id, environment)
        if spans:
            piece = Totals()
            for log in logs:
                piece.add_log(log)
            for name, part in covers.items():
                if edge in part.edges:
                    slot(key, name).add(piece.measures, None)
                if edge in minus[name]:
                    slot(key, name).add(piece.measures, None, sign=-1)
        for name, part in histogram_covers.items():
            sign = 1 if edge in part.edges else -1 if edge in histogram_minus[name] else 0
            if not sign:
                continue
            histogram = histogram_slot(key, name)
            for log in logs:
                if log.execution_time_seconds is not None:
                    bucket = duration_bucket(log.execution_time_seconds)
                    histogram[bucket] = histogram.get(bucket, 0) + sign
    return totals, histograms


def last_log_by_client_environment(
    client_ids: Sequence[int], span: Span
) -> dict[ClientEnvironment, dt.datetime]:
    """The newest log's timestamp per (client, environment) within the span: one rollup
    query (the newest of the rows inside it) and one raw scan of its edges."""
    scope = Scope(client_id=None, client_ids=tuple(client_ids))
    part = cover(span)
    newest: dict[ClientEnvironment, dt.datetime] = {}

    def keep(key: ClientEnvironment, moment: dt.datetime | None) -> None:
        if moment is not None and (key not in newest or moment > newest[key]):
            newest[key] = moment

    if not part.empty:
        rows = (
            scope.filter(Rollup.objects.filter(part.condition(all_dims=False)))
            .values_list("client_id", "environment")
            .annotate(newest=Max("last_at"))
            .order_by()
        )
        for client_id, environment, moment in rows:
            keep((client_id, environment), moment)
    pieces = _edge_facts_by_client_environment(client_ids, set(part.edges), ("runs",))
    for (client_id, environment, _edge), logs in pieces.items():
        keep((client_id, environment), max(log.timestamp for log in logs))
    return newest


def hourly_runs_by_client_environment(
    client_ids: Sequence[int], spans: Sequence[Span]
) -> dict[ClientEnvironment, dict[dt.datetime, int]]:
    """Runs per UTC hour per (client, environment), for the whole hours in the spans (the
    silence monitor's normal rate at these hours of the week): one query of hour rows."""
    if not spans or not client_ids:
        return {}
    condition = Q(pk__in=[])
    for span in _merged(Span(hour_floor(s.start), hour_ceil(s.end)) for s in spans):
        condition |= Q(grain="h", start__gte=span.start, start__lt=span.end)
    rows = (
        Rollup.objects.for_clients(client_ids)
        .filter(condition)
        .values_list("client_id", "environment", "start")
        .annotate(runs=Sum("runs"))
        .order_by()
    )
    found: dict[ClientEnvironment, dict[dt.datetime, int]] = {}
    for client_id, environment, start, runs in rows:
        if runs:
            found.setdefault((client_id, environment), {})[start] = runs
    return found
