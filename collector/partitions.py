"""Monthly partitions of the log table on PostgreSQL (declarative range partitioning).

The log table is partitioned by month of ``timestamp``, with a DEFAULT partition for
anything outside the months that have one (a clock decades off, a month not created yet),
so no log is ever refused for its date. Partitions are created ahead by ``prune_logs`` (run
daily) and ``manage.py create_partitions``, never inside an ingestion request: creating one
takes locks that a request must not wait for. Creating a month whose logs already sit in
the default partition moves them in the same transaction.

Retention drops a whole month when every client with logs in it has expired them
(``collector.services.retention``). SQLite has no partitions: every function here is a
no-op there.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

LOG_TABLE = "collector_workflowlog"
DEFAULT_PARTITION = f"{LOG_TABLE}_default"
# Months kept ready before they are needed, and months back that ensure() also checks
# (for a database that was down over a month's start).
MONTHS_AHEAD = 3
MONTHS_BACK = 1
# A partition's DDL waits at most this long for its locks, then gives up and tries again
# on the next run: logs keep flowing into the default partition meanwhile, never queue
# behind a long dashboard query holding the table.
LOCK_TIMEOUT = "5s"

_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    start: dt.datetime | None  # None for the default partition
    end: dt.datetime | None

    @property
    def is_default(self) -> bool:
        return self.start is None


def month_start(moment: dt.datetime | dt.date) -> dt.datetime:
    return dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC)


def month_add(start: dt.datetime, months: int) -> dt.datetime:
    index = start.year * 12 + start.month - 1 + months
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)


def partition_name(start: dt.datetime) -> str:
    return f"{LOG_TABLE}_p{start:%Y_%m}"


def is_partitioned(connection: BaseDatabaseWrapper = default_connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [LOG_TABLE])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partitions_list(connection: BaseDatabaseWrapper = default_connection) -> list[Partition]:
    """The log table's partitions, oldest first, the default partition last."""
    if not is_partitioned(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname, pg_get_expr(child.relpartbound, child.oid)
            FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            WHERE pg_inherits.inhparent = to_regclass(%s)
            """,
            [LOG_TABLE],
        )
        rows = cursor.fetchall()
    partitions = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match is None:
            partitions.append(Partition(name=name, start=None, end=None))
            continue
        start, end = (dt.datetime.fromisoformat(value) for value in match.groups())
        partitions.append(
            Partition(name=name, start=start.astimezone(dt.UTC), end=end.astimezone(dt.UTC))
        )
    return sorted(partitions, key=lambda p: (p.is_default, p.start or dt.datetime.min))


def _quote(connection: BaseDatabaseWrapper, name: str) -> str:
    return connection.ops.quote_name(name)


def partition_create(
    start: dt.datetime, connection: BaseDatabaseWrapper = default_connection
) -> bool:
    """Create the month starting at ``start``; False when it exists already.

    Built beside the table and attached, so the table itself is only briefly locked
    (ATTACH takes SHARE UPDATE EXCLUSIVE, which reads and inserts do not wait for); logs of
    that month waiting in the default partition are moved into it first.
    """
    if not is_partitioned(connection):
        return False
    start = month_start(start)
    end = month_add(start, 1)
    name = partition_name(start)
    table, default = _quote(connection, LOG_TABLE), _quote(connection, DEFAULT_PARTITION)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return False
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        quoted = _quote(connection, name)
        # Generated columns (the search vector, collector.search) stay generated: ATTACH
        # refuses a partition where they are plain.
        cursor.execute(
            f"CREATE TABLE {quoted} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING GENERATED)"
        )
        # The bound as a constraint lets ATTACH skip scanning the new table.
        cursor.execute(
            f"ALTER TABLE {quoted} ADD CONSTRAINT {_quote(connection, name + '_bound')} "
            "CHECK (timestamp IS NOT NULL AND timestamp >= %s AND timestamp < %s)",
            [start, end],
        )
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [DEFAULT_PARTITION])
        if cursor.fetchone()[0]:
            # By name, and without generated columns, which PostgreSQL computes again.
            cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                [DEFAULT_PARTITION],
            )
            columns = ", ".join(_quote(connection, row[0]) for row in cursor.fetchall())
            cursor.execute(
                f"WITH moved AS (DELETE FROM {default} WHERE timestamp >= %s AND "  # noqa: S608 (names from the catalog, values bound)
                f"timestamp < %s RETURNING {columns}) "
                f"INSERT INTO {quoted} ({columns}) SELECT {columns} FROM moved",
                [start, end],
            )
        cursor.execute(
            f"ALTER TABLE {table} ATTACH PARTITION {quoted} FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
        cursor.execute(
            f"ALTER TABLE {quoted} DROP CONSTRAINT {_quote(connection, name + '_bound')}"
        )
    return True


def partitions_ensure(
    *,
    now: dt.datetime,
    months_back: int = MONTHS_BACK,
    months_ahead: int = MONTHS_AHEAD,
    connection: BaseDatabaseWrapper = default_connection,
) -> list[str]:
    """Create the missing months from ``months_back`` before now to ``months_ahead`` after.

    Each month in its own transaction. Returns the names created.
    """
    from django.db import transaction

    if not is_partitioned(connection):
        return []
    created = []
    current = month_start(now)
    for offset in range(-months_back, months_ahead + 1):
        start = month_add(current, offset)
        with transaction.atomic(using=connection.alias):
            if partition_create(start, connection):
                created.append(partition_name(start))
    return created
