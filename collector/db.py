"""Statements the hot path runs on a server-binding psycopg cursor (PostgreSQL).

Django's psycopg cursors quote every parameter into the SQL text and never prepare. For
the few statements every ingestion request runs (the key lookup, the store), a cursor of
psycopg's own on the same connection, so the same transaction, sends the parameters apart
and, with the ``prepare_threshold`` the settings give the connection
(``DB_PREPARED_STATEMENTS``), prepares each statement after five runs: PostgreSQL then no
longer parses and plans it per request. Measured in docs/performance.md.

Queries run here are recorded where Django records its own (``connection.queries``,
with DEBUG or under a test's query counter), so query counts stay honest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper


def server_bound_fetch(
    connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]
) -> list[tuple]:
    """Run one statement with server-side binding on ``connection``; all its rows."""
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        # rownumber is None without a result set (cheaper to ask than description).
        rows = cursor.fetchall() if cursor.rownumber is not None else []
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows
