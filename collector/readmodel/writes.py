"""Writes of the read model: delta rows, compaction, and the rebuild from raw logs.

Design (docs/dashboard.md, "The read model"):

- Every writer *appends* delta rows, in the same transaction as the logs they count:
  ingestion adds, retention pruning subtracts. No rollup row is ever updated in a request,
  so concurrent requests for the same client and hour never wait on one another's row
  lock until commit; the only shared work is one INSERT of a few rows.
- Compaction merges a key's rows into one ``compacted`` row, in a background thread of
  each ingesting process (at most every ROLLUP_COMPACT_INTERVAL_SECONDS) and at the end
  of every prune and rebuild. Reads sum every row
  of a key, so they are exact before, during and after compaction.
- Compaction, the rebuild and dropping a partition's rollups delete rows; they take one
  advisory lock so that no two of them work on the same rows at once. The rebuild reads
  in REPEATABLE READ, so the rows it deletes and the logs it recounts are one snapshot: a
  log committed after it is counted by its own delta row, which the rebuild never sees.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Max, Min, Q

from collector.models import DurationRollup, ErrorRollup, Rollup, WorkflowLog
from collector.readmodel.facts import (
    FACT_COLUMNS,
    FLOAT_MEASURES,
    HOURLY_MEASURES,
    LogFacts,
    Tally,
    day_floor,
)

logger = logging.getLogger(__name__)

# pg_advisory_lock key of the rollup maintenance (compaction, rebuild, partition drop).
ROLLUP_LOCK_KEY = 0x466C7573  # "Flus"
# Keys merged per compaction transaction: keeps each one short.
COMPACT_KEYS_PER_TRANSACTION = 2000
# Compaction passes per call: bounds the work one finishing request does.
COMPACT_PASSES = 5

ROLLUP_KEY = ("client_id", "grain", "start", "environment", "workflow_version")
ERROR_KEY = (*ROLLUP_KEY, "error_type", "error_node")
DURATION_KEY = (*ROLLUP_KEY, "bucket")


def tally_rows(
    *, client_id: int, tally: Tally, compacted: bool = False
) -> tuple[list[Rollup], list[ErrorRollup], list[DurationRollup]]:
    def key(values: tuple) -> dict:
        grain, start, environment, version = values[:4]
        return {
            "client_id": client_id,
            "grain": grain,
            "start": start,
            "environment": environment,
            "workflow_version": version,
            "compacted": compacted,
        }

    rows = [
        Rollup(**key(k), last_at=tally.last_at.get(k), **measures)
        for k, measures in tally.rows.items()
    ]
    errors = [
        ErrorRollup(**key(k), error_type=k[4], error_node=k[5], runs=runs, last_at=last_at)
        for k, (runs, last_at) in tally.errors.items()
    ]
    durations = [
        DurationRollup(**key(k), bucket=k[4], runs=runs) for k, runs in tally.durations.items()
    ]
    return rows, errors, durations


def deltas_insert(*, client_id: int, tally: Tally, using: str = "default") -> None:
    """Append the tally as delta rows; call inside the transaction that wrote the logs."""
    for model, rows in zip(_MODELS, tally_rows(client_id=client_id, tally=tally), strict=True):
        if rows:
            model.objects.using(using).bulk_create(rows)
    compaction_mark_due()


# The lock --------------------------------------------------------------------------------


@contextlib.contextmanager
def maintenance_lock(*, using: str = "default", wait: bool = True) -> Iterator[bool]:
    """The rollup maintenance lock (PostgreSQL session advisory lock); yields whether held.

    Taken outside the transaction it guards, so a REPEATABLE READ snapshot is taken only
    once the lock is held. SQLite serialises writers by itself: always held there.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ROLLUP_LOCK_KEY])
            held = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ROLLUP_LOCK_KEY])
            held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ROLLUP_LOCK_KEY])


@contextlib.contextmanager
def snapshot_transaction(using: str, *, read_only: bool = False) -> Iterator[None]:
    """A transaction whose statements all read one snapshot (REPEATABLE READ).

    Nested in a caller's transaction (tests) it is a savepoint of that one, whose
    isolation level is already set. SQLite's transactions are serialised already.
    """
    connection = connections[using]
    nested = connection.in_atomic_block
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql" and not nested:
            level = "REPEATABLE READ READ ONLY" if read_only else "REPEATABLE READ"
            with connection.cursor() as cursor:
                cursor.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
        yield


# Compaction --------------------------------------------------------------------------------


def _merge_rollups(rows: list[Rollup]) -> dict[tuple, Rollup]:
    merged: dict[tuple, Rollup] = {}
    for row in rows:
        key = tuple(getattr(row, name) for name in ROLLUP_KEY)
        target = merged.get(key)
        if target is None:
            merged[key] = Rollup(
                **dict(zip(ROLLUP_KEY, key, strict=True)),
                compacted=True,
                last_at=row.last_at,
                **{name: getattr(row, name) for name in HOURLY_MEASURES},
            )
            continue
        for name in HOURLY_MEASURES:
            setattr(target, name, getattr(target, name) + getattr(row, name))
        if row.last_at is not None and (target.last_at is None or row.last_at > target.last_at):
            target.last_at = row.last_at
    for target in merged.values():
        for name in FLOAT_MEASURES:
            # A sum whose values were all subtracted again is zero, not 1e-17.
            if getattr(target, f"{name[:-4]}_n") == 0:
                setattr(target, name, 0.0)
    return merged


def _merge_simple(rows: list[Any], key_fields: tuple[str, ...], model: type) -> dict[tuple, Any]:
    merged: dict[tuple, Any] = {}
    has_last = hasattr(model, "last_at")
    for row in rows:
        key = tuple(getattr(row, name) for name in key_fields)
        target = merged.get(key)
        if target is None:
            extra = {"last_at": row.last_at} if has_last else {}
            merged[key] = model(
                **dict(zip(key_fields, key, strict=True)), compacted=True, runs=row.runs, **extra
            )
            continue
        target.runs += row.runs
        newer = has_last and row.last_at is not None
        if newer and (target.last_at is None or row.last_at > target.last_at):
            target.last_at = row.last_at
    return merged


def _all_zero(row: Any, model: type) -> bool:
    if model is Rollup:
        return all(getattr(row, name) == 0 for name in HOURLY_MEASURES)
    return row.runs == 0


_MODELS = (Rollup, ErrorRollup, DurationRollup)
_TABLES: tuple[tuple[type, tuple[str, ...]], ...] = (
    (Rollup, ROLLUP_KEY),
    (ErrorRollup, ERROR_KEY),
    (DurationRollup, DURATION_KEY),
)


def _measures(model: type) -> tuple[list[str], list[str], str]:
    """(summed columns, their merged SQL, the HAVING that keeps a row) of a rollup table."""
    if model is Rollup:
        columns = [*HOURLY_MEASURES, "last_at"]
        merged = []
        for name in HOURLY_MEASURES:
            if name in FLOAT_MEASURES:
                # A sum whose values were all subtracted again is zero, not 1e-17.
                merged.append(f"CASE WHEN SUM({name[:-4]}_n) = 0 THEN 0 ELSE SUM({name}) END")
            else:
                merged.append(f"SUM({name})")
        merged.append("MAX(last_at)")
        keep = " OR ".join(
            f"SUM({name}) <> 0" for name in HOURLY_MEASURES if name not in FLOAT_MEASURES
        )
        return columns, merged, keep
    if any(field.name == "last_at" for field in model._meta.fields):
        return ["runs", "last_at"], ["SUM(runs)", "MAX(last_at)"], "SUM(runs) <> 0"
    return ["runs"], ["SUM(runs)"], "SUM(runs) <> 0"


@cache
def _compact_sql(model: type, key_fields: tuple[str, ...]) -> str:
    """One statement (PostgreSQL) that merges up to N keys with pending delta rows.

    Each key's rows (its compacted row and its deltas) are deleted and summed back in as
    one compacted row; the deltas among them are also added into the row over all
    environments and versions of the same client, grain and time (upper-case grain), which
    is deleted and written back summed. One statement: a reader sees every delta either
    pending or folded into both, never in between. Answers the number of keys merged.
    """
    table = model._meta.db_table
    keys = ", ".join(key_fields)
    join = " AND ".join(f"t.{name} = keys.{name}" for name in key_fields)
    extra = [name for name in key_fields if name not in ROLLUP_KEY]
    # The all-dimension row's key: client, grain, start and the table's extra key columns.
    fold_key = ", ".join(["client_id", "grain", "start", *extra])
    fold_join = " AND ".join(
        ["o.environment = ''", "o.workflow_version = ''"]
        + [f"o.{name} = f.{name}" for name in ("client_id", "grain", "start", *extra)]
    )
    columns, merged, keep = _measures(model)
    measures = ", ".join(columns)
    raw_sums = ", ".join(
        f"MAX({name}) AS {name}" if name == "last_at" else f"SUM({name}) AS {name}"
        for name in columns
    )
    extra_select = "".join(f", {name}" for name in extra)
    return (
        f"WITH keys AS (SELECT DISTINCT {keys} FROM {table} WHERE NOT compacted LIMIT %s), "  # noqa: S608 (names from model metadata)
        f"gone AS (DELETE FROM {table} t USING keys WHERE {join} RETURNING t.*), "
        f"merged AS (INSERT INTO {table} ({keys}, compacted, {measures}) "
        f"SELECT {keys}, true, {', '.join(merged)} FROM gone GROUP BY {keys} HAVING {keep}), "
        f"fresh AS (SELECT client_id, upper(grain) AS grain, start{extra_select}, {raw_sums} "
        f"FROM gone WHERE NOT compacted GROUP BY client_id, upper(grain), start{extra_select}), "
        f"old AS (DELETE FROM {table} o USING fresh f WHERE {fold_join} RETURNING o.*), "
        f"folded AS (INSERT INTO {table} ({keys}, compacted, {measures}) "
        f"SELECT client_id, grain, start, '', ''{extra_select}, true, {', '.join(merged)} "
        f"FROM (SELECT {fold_key}, {measures} FROM fresh "
        f"UNION ALL SELECT {fold_key}, {measures} FROM old) x "
        f"GROUP BY {fold_key} HAVING {keep}) "
        "SELECT count(*) FROM keys"
    )


def _merge(rows: list[Any], key_fields: tuple[str, ...], model: type) -> dict[tuple, Any]:
    return _merge_rollups(rows) if model is Rollup else _merge_simple(rows, key_fields, model)


def _compact_table(model: type, key_fields: tuple[str, ...], using: str) -> int:
    """Merge up to COMPACT_KEYS_PER_TRANSACTION keys with pending rows; returns how many."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_compact_sql(model, key_fields), [COMPACT_KEYS_PER_TRANSACTION])
            return cursor.fetchone()[0]
    manager = model.objects.using(using)
    keys = set(
        manager.filter(compacted=False)
        .order_by()
        .values_list(*key_fields)
        .distinct()[:COMPACT_KEYS_PER_TRANSACTION]
    )
    if not keys:
        return 0
    clients = {key[0] for key in keys}
    starts = {key[2] for key in keys}
    with transaction.atomic(using=using):
        candidates = list(manager.filter(client_id__in=clients, start__in=starts))
        rows = [
            row for row in candidates if tuple(getattr(row, name) for name in key_fields) in keys
        ]
        # The deltas, as rows of the all-dimension key, beside that key's existing row.
        fresh = [_as_all_dimensions(row) for row in rows if not row.compacted]
        fold_keys = {tuple(getattr(row, name) for name in key_fields) for row in fresh}
        old = [
            row
            for row in candidates
            if row.grain.isupper() and tuple(getattr(row, n) for n in key_fields) in fold_keys
        ]
        merged = list(_merge(rows, key_fields, model).values())
        merged += _merge(fresh + old, key_fields, model).values()
        ids = [row.pk for row in rows + old]
        for start in range(0, len(ids), 5000):
            manager.filter(pk__in=ids[start : start + 5000]).delete()
        # A key whose logs were all subtracted again (retention) leaves no row; a row is
        # dropped only when every one of its numbers is zero, so compaction never hides
        # anything a read would have summed.
        manager.bulk_create([row for row in merged if not _all_zero(row, model)])
    return len(keys)


def _as_all_dimensions(row: Any) -> Any:
    """A copy of a delta row keyed as the row over all environments and versions."""
    copy = type(row)(
        **{field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}
    )
    copy.pk = None
    copy.grain = row.grain.upper()
    copy.environment = ""
    copy.workflow_version = ""
    return copy


def rollups_compact(*, using: str = "default", passes: int = COMPACT_PASSES) -> int:
    """Merge pending delta rows; returns the number of keys merged (0 when busy elsewhere)."""
    merged = 0
    with maintenance_lock(using=using, wait=False) as held:
        if not held:
            return 0
        for _ in range(passes):
            done = [_compact_table(*table, using) for table in _TABLES]
            merged += sum(done)
            # A pass that did not fill a transaction has caught up with the backlog; what
            # requests append meanwhile is for the next call.
            if max(done) < COMPACT_KEYS_PER_TRANSACTION:
                break
    return merged


# Compaction beside ingestion: a thread per process, woken by requests that wrote deltas,
# merging at most every ROLLUP_COMPACT_INTERVAL_SECONDS. It waits on the database, not on
# the interpreter, so requests in the same process carry on meanwhile (run after each
# response instead, it held a sync worker and the requests queued behind it).


class _Compactor(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="flusso-rollup-compactor", daemon=True)
        self.wake = threading.Event()
        self.pid = os.getpid()

    def run(self) -> None:
        from django.db import connection

        while True:
            self.wake.wait()
            self.wake.clear()
            interval = settings.ROLLUP_COMPACT_INTERVAL_SECONDS
            try:
                rollups_compact()
            except Exception as exc:  # the database is away: try again on the next wake
                logger.warning("Rollup compaction failed: %s", type(exc).__name__)
            finally:
                # Connected only while merging: an idle thread holds no connection.
                connection.close()
            time.sleep(max(interval, 0))


_compactor: _Compactor | None = None
_compactor_lock = threading.Lock()


def compaction_mark_due() -> None:
    """Ask this process's compactor to merge the delta rows just written."""
    global _compactor
    if settings.ROLLUP_COMPACT_INTERVAL_SECONDS < 0:
        return
    compactor = _compactor
    # A compactor of the parent process does not survive a fork (gunicorn's workers).
    if compactor is None or compactor.pid != os.getpid() or not compactor.is_alive():
        with _compactor_lock:
            compactor = _compactor
            if compactor is None or compactor.pid != os.getpid() or not compactor.is_alive():
                compactor = _compactor = _Compactor()
                compactor.start()
    compactor.wake.set()


# Rebuild ----------------------------------------------------------------------------------


def _chunk_rebuild(*, client_id: int, start: dt.datetime, end: dt.datetime, using: str) -> int:
    """Replace one client's rollups of [start, end) (whole UTC days) by a recount."""
    with snapshot_transaction(using):
        for model in _MODELS:
            model.objects.using(using).for_client(client_id).filter(
                start__gte=start, start__lt=end
            ).delete()
        tally = Tally(all_dimensions=True)
        count = 0
        rows = (
            WorkflowLog.objects.using(using)
            .for_client(client_id)
            .filter(timestamp__gte=start, timestamp__lt=end)
            .order_by()
            .values_list(*FACT_COLUMNS)
        )
        for values in rows.iterator(chunk_size=5000):
            tally.add(LogFacts(*values))
            count += 1
        # Rows appended by requests still in flight are not in this snapshot and stay as
        # pending deltas beside these.
        for model, new_rows in zip(
            _MODELS, tally_rows(client_id=client_id, tally=tally, compacted=True), strict=True
        ):
            model.objects.using(using).bulk_create(new_rows)
    return count


_END_OF_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)


def _days_after(day: dt.datetime, days: int) -> dt.datetime:
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:  # a log dated in the year 9999
        return _END_OF_TIME


def _next_day_with_rows(client_id: int, after: dt.datetime, using: str) -> dt.datetime | None:
    """The first UTC day at or after ``after`` holding a log or a rollup row of the client:
    the rebuild steps over empty years (a clock decades off) instead of through them."""
    candidates = [
        WorkflowLog.objects.using(using)
        .for_client(client_id)
        .filter(timestamp__gte=after)
        .order_by("timestamp")
        .values_list("timestamp", flat=True)
        .first(),
        *(
            model.objects.using(using)
            .for_client(client_id)
            .filter(start__gte=after)
            .order_by("start")
            .values_list("start", flat=True)
            .first()
            for model in _MODELS
        ),
    ]
    found = [moment for moment in candidates if moment is not None]
    return day_floor(min(found)) if found else None


def rollups_rebuild(
    *,
    client_ids: list[int],
    days_per_chunk: int = 1,
    using: str = "default",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild the clients' rollups from their raw logs; returns the logs counted.

    One transaction per client and ``days_per_chunk`` UTC days (only days that hold logs
    or rollup rows), so the work is done in bounded steps and ingestion goes on meanwhile.
    ``progress(logs_done, logs_total)`` is called after every chunk.
    """
    logs = WorkflowLog.objects.using(using)
    total = logs.filter(client_id__in=client_ids).count() if progress else 0
    done = 0
    for client_id in client_ids:
        with maintenance_lock(using=using):
            # The range and what lies outside it, in one snapshot: a log committed later
            # is counted by its own delta rows, which this transaction does not see.
            with snapshot_transaction(using):
                bounds = logs.for_client(client_id).aggregate(
                    first=Min("timestamp"), last=Max("timestamp")
                )
                if bounds["first"] is None:
                    for model in _MODELS:
                        model.objects.using(using).for_client(client_id).delete()
                    continue
                first = day_floor(bounds["first"])
                end = _days_after(day_floor(bounds["last"]), 1)
                for model in _MODELS:
                    model.objects.using(using).for_client(client_id).filter(
                        Q(start__lt=first) | Q(start__gte=end)
                    ).delete()
            start: dt.datetime | None = first
            while start is not None and start < end:
                chunk_end = min(_days_after(start, days_per_chunk), end)
                done += _chunk_rebuild(client_id=client_id, start=start, end=chunk_end, using=using)
                if progress:
                    progress(done, total)
                start = (
                    _next_day_with_rows(client_id, chunk_end, using) if chunk_end < end else None
                )
    rollups_compact(using=using, passes=1000)
    return done
