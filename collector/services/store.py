"""Storing logs: receipt, row and rollup deltas, exactly once and in one transaction.

``logs_store`` is the only way logs are written (ingestion, the demo, the tests). Its
contract: of the logs given, those whose (client, log_id) had no receipt are stored, with
the delta rows that count them, atomically; the others are left alone.

On PostgreSQL one log is one statement, run in autocommit: data-modifying CTEs insert the
receipt (``ON CONFLICT DO NOTHING``), the log row if the receipt went in, and its delta
rows if the receipt went in, so the request makes two round trips in all (the key lookup
and this) and "201" means committed. A batch is the same statement with the batch's
deltas summed in Python, which count only if every receipt went in; when some did not (a
resent batch, or a concurrent request storing one of its logs first) the transaction is
rolled back and tried again without the logs stored already. Elsewhere (SQLite) the same
three writes run through the ORM in one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from django.db import connections, transaction

from collector.db import server_bound_fetch
from collector.models import DurationRollup, ErrorRollup, LogReceipt, Rollup, WorkflowLog
from collector.readmodel.facts import FACT_COLUMNS, FLOAT_MEASURES, HOURLY_MEASURES, LogFacts, Tally
from collector.readmodel.writes import compaction_mark_due, deltas_insert

# A batch raced by a concurrent request storing one of its logs is retried this often.
BATCH_ATTEMPTS = 5

# Log columns written (all but the id, which the sequence gives), and their SQL types.
_LOG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("log_id", "uuid"),
    ("ticket_id", "text"),
    ("environment", "text"),
    ("status", "text"),
    ("workflow_version", "text"),
    ("timestamp", "timestamptz"),
    ("received_at", "timestamptz"),
    ("execution_time_seconds", "float8"),
    ("react_iterations", "int8"),
    ("overall_confidence", "float8"),
    ("hallucination_risk", "float8"),
    ("product_confidence", "float8"),
    ("vision_matches", "int8"),
    ("text_matches", "int8"),
    ("error_type", "text"),
    ("error_node", "text"),
    ("error_message", "text"),
    ("document", "jsonb"),
)
_KEY_COLUMNS = (
    ("grain", "text"),
    ("start", "timestamptz"),
    ("environment", "text"),
    ("workflow_version", "text"),
)
_ROLLUP_COLUMNS = (
    *_KEY_COLUMNS,
    *((name, "float8" if name in FLOAT_MEASURES else "int8") for name in HOURLY_MEASURES),
    ("last_at", "timestamptz"),
)
_ERROR_COLUMNS = (
    *_KEY_COLUMNS,
    ("error_type", "text"),
    ("error_node", "text"),
    ("runs", "int8"),
    ("last_at", "timestamptz"),
)
_DURATION_COLUMNS = (*_KEY_COLUMNS, ("bucket", "int8"), ("runs", "int8"))


def log_facts(log: WorkflowLog) -> LogFacts:
    return LogFacts(*(getattr(log, name) for name in FACT_COLUMNS))


# The statement stays under psycopg's 4 KB limit for caching its parsed form (every
# request would parse it again otherwise): names are quoted only where SQL needs it.
_QUOTED = {"timestamp"}


def _name(name: str) -> str:
    return f'"{name}"' if name in _QUOTED else name


def _record_type(columns: Sequence[tuple[str, str]]) -> str:
    return ",".join(f"{_name(name)} {kind}" for name, kind in columns)


def _names(columns: Sequence[tuple[str, str]]) -> str:
    return ",".join(_name(name) for name, _ in columns)


def _delta_cte(alias: str, table: str, columns: Sequence[tuple[str, str]], condition: str) -> str:
    names = _names(columns)
    return (
        f"{alias} AS (INSERT INTO {table} (client_id, compacted, {names}) "  # noqa: S608 (names from model metadata, values bound)
        f"SELECT %s, false, {names} FROM jsonb_to_recordset(%s::jsonb) "
        f"AS d({_record_type(columns)}) WHERE {condition})"
    )


@cache
def _statement(*, batch: bool, errors: bool, durations: bool) -> str:
    """The one statement that stores logs and their deltas (PostgreSQL).

    Rows travel as one JSON array per table (``jsonb_to_recordset``): a handful of
    parameters however many rows, written by orjson and read by PostgreSQL in C.
    """
    receipts = LogReceipt._meta.db_table
    logs = WorkflowLog._meta.db_table
    # A single log's deltas go in if its receipt did; a batch's if all of its receipts
    # did (else the caller rolls back and tries again without the ones stored meanwhile).
    condition = "(SELECT count(*) FROM receipt) = %s" if batch else "EXISTS (SELECT 1 FROM receipt)"
    ctes = [
        f"v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v({_record_type(_LOG_COLUMNS)}))",  # noqa: S608
        f'receipt AS (INSERT INTO {receipts} (client_id, log_id, "timestamp") '  # noqa: S608
        # Receipts in log_id order: two batches sharing logs lock them in the same order.
        'SELECT %s, log_id, "timestamp" FROM v ORDER BY log_id '
        "ON CONFLICT DO NOTHING RETURNING log_id)",
        f"stored AS (INSERT INTO {logs} (client_id, {_names(_LOG_COLUMNS)}) "  # noqa: S608
        f"SELECT %s, {_names(_LOG_COLUMNS)} FROM v "
        "WHERE log_id IN (SELECT log_id FROM receipt) RETURNING id, log_id)",
        _delta_cte("rollup", Rollup._meta.db_table, _ROLLUP_COLUMNS, condition),
    ]
    if errors:
        ctes.append(_delta_cte("error", ErrorRollup._meta.db_table, _ERROR_COLUMNS, condition))
    if durations:
        ctes.append(
            _delta_cte("duration", DurationRollup._meta.db_table, _DURATION_COLUMNS, condition)
        )
    return "WITH " + ",\n".join(ctes) + "\nSELECT id, log_id FROM stored"


def _records(rows: Sequence[tuple], columns: Sequence[tuple[str, str]]) -> str:
    """Rows as the JSON array jsonb_to_recordset reads (documents stay nested JSON)."""
    names = [name for name, _ in columns]
    records = [dict(zip(names, row, strict=True)) for row in rows]
    try:
        return orjson.dumps(records).decode()
    except TypeError:  # an integer past 64 bits in a document, which orjson does not write
        return json.dumps(records, default=str, ensure_ascii=False, separators=(",", ":"))


def _params(*, client_id: int, logs: Sequence[WorkflowLog], tally: Tally, batch: bool) -> tuple:
    log_rows = [tuple(getattr(log, name) for name, _ in _LOG_COLUMNS) for log in logs]
    rollups = [
        (*key, *(measures[name] for name in HOURLY_MEASURES), tally.last_at.get(key))
        for key, measures in tally.rows.items()
    ]
    errors = [(*key, runs, last_at) for key, (runs, last_at) in tally.errors.items()]
    durations = [(*key[:4], key[4], runs) for key, runs in tally.durations.items()]
    params: list[Any] = [_records(log_rows, _LOG_COLUMNS), client_id, client_id]
    condition = [len(logs)] if batch else []
    for rows, columns in (
        (rollups, _ROLLUP_COLUMNS),
        (errors, _ERROR_COLUMNS),
        (durations, _DURATION_COLUMNS),
    ):
        if rows:
            params += [client_id, _records(rows, columns), *condition]
    return tuple(params), bool(errors), bool(durations)


def _stored_log_ids(connection: Any, client_id: int, logs: Sequence[WorkflowLog]) -> set:
    """The log_ids of these logs that have a receipt: one index probe each (a join, which
    the planner cannot turn into a scan of every receipt of the client)."""
    sql = (
        f"SELECT r.log_id FROM unnest(%s::uuid[]) AS u(log_id) "  # noqa: S608 (name from model metadata)
        f"JOIN {LogReceipt._meta.db_table} r ON r.client_id = %s AND r.log_id = u.log_id"
    )
    return {
        row[0]
        for row in server_bound_fetch(connection, sql, ([log.log_id for log in logs], client_id))
    }


class _Raced(Exception):
    """A concurrent request stored one of the batch's logs between the check and the write."""


def _store_postgresql(client_id: int, logs: Sequence[WorkflowLog], using: str) -> list[WorkflowLog]:
    connection = connections[using]
    batch = len(logs) > 1
    for attempt in range(BATCH_ATTEMPTS):
        try:
            with transaction.atomic(using=using) if batch else _no_transaction():
                pending = logs
                if attempt:
                    # Raced (or a resent batch): leave out what is stored already.
                    existing = _stored_log_ids(connection, client_id, logs)
                    pending = [log for log in logs if log.log_id not in existing]
                    if not pending:
                        return []
                tally = Tally().add_all(log_facts(log) for log in pending)
                params, errors, durations = _params(
                    client_id=client_id, logs=pending, tally=tally, batch=batch
                )
                sql = _statement(batch=batch, errors=errors, durations=durations)
                # Bound by the server and prepared (collector.db): quoting the JSON arrays
                # into the text cost more than the insert.
                rows = server_bound_fetch(connection, sql, params)
                ids = {log_id: pk for pk, log_id in rows}
                if batch and len(ids) != len(pending):
                    raise _Raced
        except _Raced:
            if attempt == BATCH_ATTEMPTS - 1:
                raise
            continue
        stored = [log for log in pending if log.log_id in ids]
        for log in stored:
            log.pk = ids[log.log_id]
            log._state.adding = False
        if stored:
            compaction_mark_due()
        return stored
    return []  # pragma: no cover (the loop returns or raises)


class _no_transaction:
    """A single statement needs none: it commits on its own (or joins the caller's)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _receipts_insert(*, client_id: int, logs: Sequence[WorkflowLog], using: str) -> set[uuid.UUID]:
    """Insert the logs' receipts; returns the log_ids that were new (portable SQL)."""
    connection = connections[using]
    log_id_field = LogReceipt._meta.get_field("log_id")
    time_field = LogReceipt._meta.get_field("timestamp")
    ordered = sorted(logs, key=lambda log: log.log_id)
    params: list[Any] = []
    for log in ordered:
        params += [
            client_id,
            log_id_field.get_db_prep_value(log.log_id, connection),
            time_field.get_db_prep_value(log.timestamp, connection),
        ]
    table = connection.ops.quote_name(LogReceipt._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(ordered))
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {table} (client_id, log_id, "timestamp") VALUES {values} '  # noqa: S608 (names from model metadata, values bound)
            "ON CONFLICT DO NOTHING RETURNING log_id",
            params,
        )
        rows = cursor.fetchall()
    return {log_id_field.to_python(row[0]) for row in rows}


def _store_portable(client_id: int, logs: Sequence[WorkflowLog], using: str) -> list[WorkflowLog]:
    with transaction.atomic(using=using):
        new = _receipts_insert(client_id=client_id, logs=logs, using=using)
        created = [log for log in logs if log.log_id in new]
        if created:
            WorkflowLog.objects.using(using).bulk_create(created)
            tally = Tally().add_all(log_facts(log) for log in created)
            deltas_insert(client_id=client_id, tally=tally, using=using)
    return created


def logs_store(
    *, client_id: int, logs: Sequence[WorkflowLog], using: str = "default"
) -> list[WorkflowLog]:
    """Store the logs not stored before (by log_id); returns those, with their ids.

    Receipts, rows and the rollup deltas of exactly the rows stored, atomically. The
    logs' log_ids must be distinct.
    """
    if not logs:
        return []
    if connections[using].vendor == "postgresql":
        return _store_postgresql(client_id, logs, using)
    return _store_portable(client_id, logs, using)
