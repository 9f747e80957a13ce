"""Full-text search over the logs: a GIN index of their searchable text (PostgreSQL).

Created on the partitioned table, so every month's partition has it, and so will every
partition attached later (``collector.partitions.partition_create``: ATTACH builds the
indexes a partition lacks). Building it reads every stored log once; at a million logs it
takes about a minute (docs/performance.md). SQLite searches without an index
(``collector.search``).
"""

from django.db import migrations

from collector import search


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(search.SEARCH_INDEX_SQL)


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {search.SEARCH_INDEX_NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("collector", "0005_api_key_events"),
    ]

    operations = [
        migrations.RunPython(index_create, index_drop, elidable=False),
    ]
