"""Statements the hot path runs on a server-binding psycopg cursor (PostgreSQL).

Django's psycopg cursors quote every parameter into the SQL text and never prepare. For
the few statements every ingestion request runs (the key lookup, the store), a cursor of
psycopg's own on the same connection, so the same transaction, sends the parameters apart
and, with the ``prepare_threshold`` the settings give the connection
(``DB_PREPARED_STATEMENTS``), prepares each statement after five runs: PostgreSQL then no
longer parses and plans it per request. psycopg forgets its prepared statements on a
rollback and prepares them again. Measured in docs/performance.md.

Before running, the connection gets the checks Django's own cursors make (the health
check of ``conn_health_checks``, which reconnects after a server restart; the thread
check; no statement in a broken transaction). Queries run here are recorded where Django
records its own (``connection.queries``, with DEBUG or under a test's query counter), so
query counts stay honest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper


def _run(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> list[tuple]:
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    started = time.monotonic()
    try:
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params)
            # rownumber is None without a result set (cheaper to ask than description).
            return cursor.fetchall() if cursor.rownumber is not None else []
    finally:
        if connection.queries_logged:
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def server_bound_fetch(
    connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]
) -> list[tuple]:
    """Run one statement with server-side binding on ``connection``; all its rows.

    Elsewhere than PostgreSQL (SQLite) it runs on Django's own cursor: the same rows.

    A migration that changes the type of a column the statement returns makes
    PostgreSQL refuse the prepared form on every later run ("cached plan must not change
    result type"), and in autocommit nothing would make psycopg forget it. Outside a
    transaction the connection is then opened afresh and the statement run once more;
    inside one, the error is raised and the rollback that follows clears it.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []
    try:
        return _run(connection, sql, params)
    except Exception as exc:
        cause = exc.__cause__
        if not isinstance(cause, psycopg.errors.FeatureNotSupported) or connection.in_atomic_block:
            raise
        connection.close()
        return _run(connection, sql, params)
