from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from collector.models import WorkflowLog
from collector.tests.factories import WorkflowLogFactory

# VACUUM cannot run inside the transaction a plain database test is wrapped in.
pytestmark = pytest.mark.django_db(transaction=True)


def _plan(sql: str, params: list) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # On a handful of rows the planner would rather scan the table; forbid that to ask
        # whether the index alone can answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_dashboard_aggregates_are_answered_from_the_time_index_alone():
    """The typed columns dashboards aggregate are carried in the (client, timestamp, id)
    index on PostgreSQL, so a period's aggregates never read the wide JSON rows."""
    log = WorkflowLogFactory()
    since = timezone.now() - timedelta(days=30)
    queryset = WorkflowLog.objects.filter(client=log.client, timestamp__gte=since)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE collector_workflowlog")  # sets the visibility map
        fields = [
            "status",
            "environment",
            "workflow_version",
            "execution_time_seconds",
            "overall_confidence",
            "hallucination_risk",
            "react_iterations",
            "error_type",
            "error_node",
            "id",
            "timestamp",
        ]
        sql, params = queryset.values(*fields).query.sql_with_params()
        plan = _plan(sql, list(params))
        assert "Index Only Scan" in plan and "using log_client_time" in plan, plan
    else:
        with connection.cursor() as cursor:
            columns = connection.introspection.get_constraints(cursor, "collector_workflowlog")
        assert columns["log_client_time"]["columns"] == ["client_id", "timestamp", "id"]
