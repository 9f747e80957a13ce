"""Full-text search over the logs (PostgreSQL): a stored tsvector column and its GIN index.

Both on the partitioned table, so every month's partition has them, and every partition
``collector.partitions.partition_create`` attaches later (the column is generated there
too; ATTACH builds the index). Adding the column rewrites the table and building the
index reads it, both holding off writes meanwhile: on a million logs about a minute
(docs/performance.md). SQLite searches without an index (``collector.search``).
"""

from django.db import migrations

from collector import search


def search_add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(search.SEARCH_COLUMN_SQL)
        schema_editor.execute(search.SEARCH_INDEX_SQL)


def search_remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {search.SEARCH_INDEX_NAME}")
        table = search.LOG_TABLE
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {search.SEARCH_COLUMN}")


class Migration(migrations.Migration):
    dependencies = [
        ("collector", "0006_api_key_scopes"),
    ]

    operations = [
        migrations.RunPython(search_add, search_remove, elidable=False),
    ]
