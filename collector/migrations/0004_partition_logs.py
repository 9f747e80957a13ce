"""On PostgreSQL, the log table becomes a table partitioned by month of its timestamp.

The existing rows are copied into the new table in this migration (a database of a million
logs takes about a minute); the rollups are built from them after migrate (see
``collector.apps``). SQLite keeps its plain table.
"""

import datetime as dt

from django.db import migrations

from collector import partitions

TABLE = partitions.LOG_TABLE
OLD = f"{TABLE}_unpartitioned"
# Months before now given their own partition on conversion; older logs go to the
# default partition (still read and pruned like the rest).
MONTHS_KEPT = 36


def partition_logs(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    WorkflowLog = apps.get_model("collector", "WorkflowLog")
    run = schema_editor.execute
    run(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    run(
        f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        'PARTITION BY RANGE ("timestamp")'
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT enumvals @> ARRAY['lz4'] FROM pg_settings "
            "WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
        if row and row[0]:
            # Faster to write and to read than pglz, at about the same size for JSON.
            run(f"ALTER TABLE {TABLE} ALTER COLUMN document SET COMPRESSION lz4")
        cursor.execute(f'SELECT MIN("timestamp"), COALESCE(MAX(id), 0) FROM {OLD}')
        oldest, max_id = cursor.fetchone()

    run(f"CREATE TABLE {partitions.DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
    now = dt.datetime.now(dt.UTC)
    first = partitions.month_add(partitions.month_start(now), -partitions.MONTHS_BACK)
    if oldest is not None:
        kept = partitions.month_add(partitions.month_start(now), -MONTHS_KEPT)
        first = min(first, max(kept, partitions.month_start(oldest)))
    last = partitions.month_add(partitions.month_start(now), partitions.MONTHS_AHEAD)
    month = first
    while month <= last:
        partitions.partition_create(month, connection)
        month = partitions.month_add(month, 1)

    columns = ", ".join(
        schema_editor.quote_name(field.column) for field in WorkflowLog._meta.local_fields
    )
    run(f"INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM {OLD}")
    run(f"DROP TABLE {OLD}")
    # A partitioned table's unique keys must hold the partition key. The identity column
    # became a plain NOT NULL one; ids come from an owned sequence (PostgreSQL 15 has no
    # identity columns on partitioned tables), so they stay unique on their own.
    run(f'ALTER TABLE {TABLE} ADD PRIMARY KEY (id, "timestamp")')
    run(f"CREATE SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
    run(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_seq')")
    run(f"SELECT setval('{TABLE}_id_seq', {int(max_id) + 1}, false)")
    run(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_client_id_fk FOREIGN KEY (client_id) "
        "REFERENCES collector_client (id) DEFERRABLE INITIALLY DEFERRED"
    )
    for index in WorkflowLog._meta.indexes:
        schema_editor.add_index(WorkflowLog, index)
    run(f"ANALYZE {TABLE}")


class Migration(migrations.Migration):
    # Copying the rows and creating partitions in one transaction: all or nothing.
    atomic = True

    dependencies = [
        ("collector", "0003_read_model"),
    ]

    operations = [
        migrations.RunPython(partition_logs, migrations.RunPython.noop, elidable=False),
    ]
