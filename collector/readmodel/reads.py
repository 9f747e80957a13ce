"""Reads of the read model: exact figures over any window, at a cost flat in data size.

A window [start, end) is answered from the rollups for the whole UTC hours (or, for the
duration histogram, whole UTC days) inside it, and from the raw logs for what is left at
its edges: less than an hour (a day) at each end, read through the log table's
(client, timestamp) index and counted by the same ``Tally`` as ingestion. A chart bucket
that does not fall on hour boundaries (a day in a time zone with a half-hour offset) is
one more edge of the same kind. So a page reads a number of rows bounded by its window's
length and the client's hourly rate, never by the number of logs stored.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Max, Q, QuerySet, Sum

from collector.models import RollupDurationDay, RollupErrorHour, RollupHour, WorkflowLog
from collector.readmodel.facts import (
    FACT_COLUMNS,
    HOURLY_MEASURES,
    LogFacts,
    Tally,
    day_ceil,
    day_floor,
    hour_ceil,
    hour_floor,
)

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Span:
    """A half-open time range [start, end)."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Scope:
    """Whose logs: one client (or every client, for the owner) and optional filters."""

    client_id: int | None
    environment: str = ""
    version: str = ""

    def filter(self, queryset: QuerySet) -> QuerySet:
        if self.client_id is not None:
            queryset = queryset.for_client(self.client_id)
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

    def add(self, measures: dict[str, float | None], last_at: dt.datetime | None) -> None:
        for name in HOURLY_MEASURES:
            self.measures[name] += measures.get(name) or 0
        if last_at is not None and (self.last_at is None or last_at > self.last_at):
            self.last_at = last_at

    def add_tally(self, tally: Tally) -> None:
        for key, measures in tally.hourly.items():
            self.add(measures, tally.last_at.get(key))


def split(span: Span, *, unit: str = "hour") -> tuple[Span | None, list[Span]]:
    """(the whole hours or UTC days inside ``span``, the edges left over)."""
    ceil, floor = (hour_ceil, hour_floor) if unit == "hour" else (day_ceil, day_floor)
    whole_start, whole_end = ceil(span.start), floor(span.end)
    if whole_start >= whole_end:
        return None, [span] if span.start < span.end else []
    edges = []
    if span.start < whole_start:
        edges.append(Span(span.start, whole_start))
    if whole_end < span.end:
        edges.append(Span(whole_end, span.end))
    return Span(whole_start, whole_end), edges


def _raw_facts(scope: Scope, edges: Sequence[Span], *, with_client: bool = False) -> list[tuple]:
    """The typed columns of the raw logs in the edges (each shorter than an hour or day)."""
    if not edges:
        return []
    condition = Q()
    for edge in edges:
        condition |= Q(timestamp__gte=edge.start, timestamp__lt=edge.end)
    columns = ("client_id", *FACT_COLUMNS) if with_client else FACT_COLUMNS
    return list(
        scope.filter(WorkflowLog.objects.filter(condition)).order_by().values_list(*columns)
    )


def _sums(prefix: str, condition: Q) -> dict:
    return {f"{prefix}{name}": Sum(name, filter=condition) for name in HOURLY_MEASURES} | {
        f"{prefix}last_at": Max("last_at", filter=condition)
    }


def _unpack(row: dict, prefix: str) -> tuple[dict[str, float | None], dt.datetime | None]:
    return {name: row[f"{prefix}{name}"] for name in HOURLY_MEASURES}, row[f"{prefix}last_at"]


def totals(scope: Scope, spans: Sequence[Span]) -> list[Totals]:
    """The summed measures of each span, exactly: one rollup query and one edge scan."""
    results = [Totals() for _ in spans]
    parts = [split(span) for span in spans]
    aggregates: dict = {}
    covered = Q(pk__in=[])
    for index, (whole, _) in enumerate(parts):
        if whole is not None:
            condition = Q(hour__gte=whole.start, hour__lt=whole.end)
            covered |= condition
            aggregates |= _sums(f"w{index}_", condition)
    if aggregates:
        row = scope.filter(RollupHour.objects.filter(covered)).aggregate(**aggregates)
        for index, (whole, _) in enumerate(parts):
            if whole is not None:
                results[index].add(*_unpack(row, f"w{index}_"))
    edges = [(index, edge) for index, (_, edge_list) in enumerate(parts) for edge in edge_list]
    facts = _raw_facts(scope, [edge for _, edge in edges])
    for index, edge in edges:
        tally = Tally().add_all(
            LogFacts(*values) for values in facts if edge.start <= values[0] < edge.end
        )
        results[index].add_tally(tally)
    return results


def totals_by_client(spans: dict[str, Span]) -> dict[int, dict[str, Totals]]:
    """Every client's summed measures per named span (the owner's overview, unscoped)."""
    parts = {name: split(span) for name, span in spans.items()}
    aggregates: dict = {}
    covered = Q(pk__in=[])
    for name, (whole, _) in parts.items():
        if whole is not None:
            condition = Q(hour__gte=whole.start, hour__lt=whole.end)
            covered |= condition
            aggregates |= _sums(f"{name}_", condition)
    results: dict[int, dict[str, Totals]] = {}

    def slot(client_id: int, name: str) -> Totals:
        return results.setdefault(client_id, {n: Totals() for n in spans})[name]

    if aggregates:
        rows = RollupHour.objects.filter(covered).values("client_id").annotate(**aggregates)
        for row in rows.order_by():
            for name, (whole, _) in parts.items():
                if whole is not None:
                    slot(row["client_id"], name).add(*_unpack(row, f"{name}_"))
    edge_list = [(name, edge) for name, (_, edges) in parts.items() for edge in edges]
    facts = _raw_facts(Scope(client_id=None), [e for _, e in edge_list], with_client=True)
    for name, edge in edge_list:
        per_client: dict[int, Tally] = {}
        for values in facts:
            if edge.start <= values[1] < edge.end:
                per_client.setdefault(values[0], Tally()).add(LogFacts(*values[1:]))
        for client_id, tally in per_client.items():
            slot(client_id, name).add_tally(tally)
    return results


def series(scope: Scope, buckets: Sequence[Span]) -> list[Totals]:
    """The summed measures of each chart bucket (consecutive spans, e.g. local days).

    Whole UTC hours inside a bucket come from one rollup query grouped by hour; whatever
    a bucket holds of an hour it shares with a neighbour (or of the window's partial
    first and last hours) is read raw.
    """
    results = [Totals() for _ in buckets]
    if not buckets:
        return results
    hour_to_bucket: dict[dt.datetime, int] = {}
    edges: list[Span] = []
    for index, bucket in enumerate(buckets):
        whole, bucket_edges = split(bucket)
        edges += bucket_edges
        if whole is not None:
            hour = whole.start
            while hour < whole.end:
                hour_to_bucket[hour] = index
                hour += HOUR
    if hour_to_bucket:
        first, last = min(hour_to_bucket), max(hour_to_bucket)
        rows = (
            scope.filter(RollupHour.objects.filter(hour__gte=first, hour__lte=last))
            .values("hour")
            .annotate(**{name: Sum(name) for name in HOURLY_MEASURES}, newest=Max("last_at"))
            .order_by()
        )
        for row in rows:
            index = hour_to_bucket.get(row["hour"])
            if index is not None:
                results[index].add(row, row["newest"])
    starts = [bucket.start for bucket in buckets]
    for values in _raw_facts(scope, edges):
        index = bisect.bisect_right(starts, values[0]) - 1
        if index >= 0 and values[0] < buckets[index].end:
            tally = Tally()
            tally.add(LogFacts(*values))
            results[index].add_tally(tally)
    return results


def error_groups(scope: Scope, span: Span) -> dict[tuple[str, str], tuple[int, dt.datetime | None]]:
    """Runs and newest time per (error type, error node) in the span."""
    whole, edges = split(span)
    groups: dict[tuple[str, str], list] = {}
    if whole is not None:
        rows = (
            scope.filter(RollupErrorHour.objects.filter(hour__gte=whole.start, hour__lt=whole.end))
            .values("error_type", "error_node")
            .annotate(runs=Sum("runs"), last_at=Max("last_at"))
            .order_by()
        )
        for row in rows:
            groups[(row["error_type"], row["error_node"])] = [row["runs"], row["last_at"]]
    tally = Tally().add_all(LogFacts(*values) for values in _raw_facts(scope, edges))
    for (_, _, _, error_type, error_node), (runs, last_at) in tally.errors.items():
        entry = groups.setdefault((error_type, error_node), [0, None])
        entry[0] += runs
        if last_at is not None and (entry[1] is None or last_at > entry[1]):
            entry[1] = last_at
    return {key: (runs, last) for key, (runs, last) in groups.items() if runs > 0}


def duration_histograms(scope: Scope, spans: Sequence[Span]) -> list[dict[int, int]]:
    """Runs per duration bucket in each span: whole UTC days from the daily rollup, the
    partial days at the edges raw."""
    results: list[dict[int, int]] = [{} for _ in spans]
    parts = [split(span, unit="day") for span in spans]
    aggregates: dict = {}
    covered = Q(pk__in=[])
    for index, (whole, _) in enumerate(parts):
        if whole is not None:
            condition = Q(day__gte=whole.start.date(), day__lt=whole.end.date())
            covered |= condition
            aggregates[f"w{index}"] = Sum("runs", filter=condition)
    if aggregates:
        rows = (
            scope.filter(RollupDurationDay.objects.filter(covered))
            .values("bucket")
            .annotate(**aggregates)
            .order_by()
        )
        for row in rows:
            for index in range(len(spans)):
                count = row.get(f"w{index}") or 0
                if count:
                    results[index][row["bucket"]] = results[index].get(row["bucket"], 0) + count
    edges = [(index, edge) for index, (_, edge_list) in enumerate(parts) for edge in edge_list]
    if edges:
        condition = Q()
        for _, edge in edges:
            condition |= Q(timestamp__gte=edge.start, timestamp__lt=edge.end)
        times = list(
            scope.filter(
                WorkflowLog.objects.filter(condition, execution_time_seconds__isnull=False)
            )
            .order_by()
            .values_list("timestamp", "environment", "workflow_version", "execution_time_seconds")
        )
        for index, edge in edges:
            tally = Tally()
            for moment, environment, version, seconds in times:
                if edge.start <= moment < edge.end:
                    tally.add(
                        LogFacts(
                            moment, environment, version, "", seconds, None, None, None, "", ""
                        )
                    )
            for (_, _, _, bucket), count in tally.durations.items():
                results[index][bucket] = results[index].get(bucket, 0) + count
    return results


def dimensions(scope: Scope, span: Span) -> set[tuple[str, str]]:
    """The (environment, version) pairs with runs in the span (the filter menus)."""
    whole, edges = split(span)
    pairs: set[tuple[str, str]] = set()
    if whole is not None:
        rows = (
            scope.filter(RollupHour.objects.filter(hour__gte=whole.start, hour__lt=whole.end))
            .values("environment", "workflow_version")
            .annotate(runs=Sum("runs"))
            .filter(runs__gt=0)
            .values_list("environment", "workflow_version")
            .order_by()
        )
        pairs.update(rows)
    for values in _raw_facts(scope, edges):
        facts = LogFacts(*values)
        pairs.add((facts.environment, facts.workflow_version))
    return pairs


def newest_hours(
    client_id: int, *, before: dt.datetime, count: int
) -> list[tuple[int, dt.datetime]]:
    """The client's newest ``count`` hours with runs before ``before`` (a whole hour), as
    (runs, newest timestamp), newest first: a few index entries however old they are."""
    rows = (
        RollupHour.objects.for_client(client_id)
        .filter(hour__lt=before)
        .values("hour")
        .annotate(n=Sum("runs"), newest=Max("last_at"))
        .filter(n__gt=0)
        .order_by("-hour")
        .values_list("n", "newest")[:count]
    )
    return list(rows)


def facts_of(values: Iterable[tuple]) -> list[LogFacts]:
    return [LogFacts(*row) for row in values]
