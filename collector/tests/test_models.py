"""The storage layout: partitions, indexes and compression the read paths rely on."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction

from collector import partitions
from collector.models import SORTABLE_METRICS, WorkflowLog
from collector.tests.factories import WorkflowLogFactory
from dashboard.selectors.logs import LogFilters, log_export_queryset

# Partitions and compression exist on PostgreSQL only; these run in CI's PostgreSQL pass.
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only: runs in CI's PostgreSQL pass"
)


def _plan(sql: str, params: list) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # On a handful of rows the planner would rather scan and sort; forbid that to ask
        # whether an index alone gives the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_on_sqlite_the_log_table_is_a_plain_table():
    """The embedded default has no partitions; every partition helper is a no-op there."""
    if connection.vendor == "postgresql":
        assert partitions.is_partitioned()
    else:
        assert not partitions.is_partitioned()
        assert partitions.partitions_list() == []


@postgresql_only
@pytest.mark.django_db
def test_the_log_table_is_partitioned_by_month_with_a_default_partition():
    found = partitions.partitions_list()
    assert found[-1].is_default and found[-1].name == partitions.DEFAULT_PARTITION
    months = [p for p in found if not p.is_default]
    assert months, "the coming months are created by migrate"
    for earlier, later in itertools.pairwise(months):
        assert earlier.end <= later.start
    for p in months:
        assert p.start.day == 1 and p.start.hour == 0
        assert p.end == partitions.month_add(p.start, 1)


@postgresql_only
@pytest.mark.django_db
def test_a_log_outside_every_month_lands_in_the_default_partition():
    import datetime as dt

    log = WorkflowLogFactory(timestamp=dt.datetime(1999, 5, 1, tzinfo=dt.UTC))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM collector_workflowlog WHERE id = %s",
            [log.pk],
        )
        assert cursor.fetchone()[0] == partitions.DEFAULT_PARTITION


@postgresql_only
@pytest.mark.django_db
def test_creating_a_month_moves_its_logs_out_of_the_default_partition():
    import datetime as dt

    moment = dt.datetime(2001, 3, 14, 15, tzinfo=dt.UTC)
    log = WorkflowLogFactory(timestamp=moment)
    assert partitions.partition_create(moment) is True
    assert partitions.partition_create(moment) is False  # exists now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM collector_workflowlog WHERE id = %s",
            [log.pk],
        )
        assert cursor.fetchone()[0] == partitions.partition_name(partitions.month_start(moment))
    assert WorkflowLog.objects.filter(pk=log.pk).count() == 1


@postgresql_only
@pytest.mark.django_db
def test_documents_are_stored_with_lz4_compression_where_the_server_has_it():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT enumvals @> ARRAY['lz4'] FROM pg_settings "
            "WHERE name = 'default_toast_compression'"
        )
        has_lz4 = cursor.fetchone()[0]
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = 'document'",
            [partitions.DEFAULT_PARTITION],
        )
        # 'l' is lz4; without it the server's default (pglz) stays, shown as ''.
        assert cursor.fetchone()[0] == ("l" if has_lz4 else "")


@postgresql_only
@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["-confidence", "risk", "-duration", "iterations", "-time"])
def test_every_sort_of_the_log_viewer_is_read_in_index_order(sort):
    """No sort of the client's logs: each page is an index range (per partition, merged)."""
    log = WorkflowLogFactory()
    queryset = log_export_queryset(client=log.client, filters=LogFilters(sort=sort))
    sql, params = queryset[:51].query.sql_with_params()
    plan = _plan(sql, list(params))
    assert "Index Scan" in plan, plan
    assert "\n  ->  Sort" not in plan and not plan.startswith("Sort"), plan


def test_each_sortable_metric_has_its_index():
    names = {index.name for index in WorkflowLog._meta.indexes}
    for metric in SORTABLE_METRICS:
        assert f"log_client_sort_{metric[:10]}" in names
