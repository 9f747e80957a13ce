"""A recount from raw logs, written independently of the read model (the tests' oracle).

Plain ORM aggregates over ``WorkflowLog``, as the dashboards computed them before the read
model: if the rollups, their edges or their compaction drift from this, a test fails.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q, Sum

from collector.models import WorkflowLog
from collector.readmodel.facts import (
    CALIBRATION_BUCKETS,
    EXECUTION_TIME_EDGES,
    duration_bucket,
)


def _logs(client_id: int | None, start: dt.datetime, end: dt.datetime, **filters: str):
    queryset = WorkflowLog.objects.filter(timestamp__gte=start, timestamp__lt=end)
    if client_id is not None:
        queryset = queryset.filter(client_id=client_id)
    return queryset.filter(**{name: value for name, value in filters.items() if value})


def recount(
    client_id: int | None,
    start: dt.datetime,
    end: dt.datetime,
    *,
    environment: str = "",
    version: str = "",
) -> dict[str, Any]:
    """Every hourly measure of the read model, counted from the raw logs in [start, end)."""
    logs = _logs(client_id, start, end, environment=environment, workflow_version=version)
    aggregates: dict[str, Any] = {
        "runs": Count("id"),
        "n_success": Count("id", filter=Q(status="SUCCESS")),
        "n_failed": Count("id", filter=Q(status="FAILED")),
        "n_error": Count("id", filter=Q(status="ERROR")),
        "n_escalated": Count("id", filter=Q(status="ESCALATED")),
        "n_with_error": Count("id", filter=~Q(error_type="")),
        "last_at": Max("timestamp"),
    }
    for column, prefix in (
        ("overall_confidence", "conf"),
        ("hallucination_risk", "risk"),
        ("react_iterations", "iter"),
        ("execution_time_seconds", "exec"),
    ):
        aggregates[f"{prefix}_n"] = Count(column)
        aggregates[f"{prefix}_sum"] = Sum(column)
    lows = [0, *EXECUTION_TIME_EDGES]
    highs = [*EXECUTION_TIME_EDGES, None]
    for i, (low, high) in enumerate(zip(lows, highs, strict=True)):
        condition = Q(execution_time_seconds__gte=low)
        if high is not None:
            condition &= Q(execution_time_seconds__lt=high)
        aggregates[f"exec_h{i}"] = Count("id", filter=condition)
    for i in range(CALIBRATION_BUCKETS):
        condition = Q(overall_confidence__gte=i / CALIBRATION_BUCKETS)
        if i == CALIBRATION_BUCKETS - 1:
            condition &= Q(overall_confidence__lte=1.0)
        else:
            condition &= Q(overall_confidence__lt=(i + 1) / CALIBRATION_BUCKETS)
        aggregates[f"cal_n{i}"] = Count("id", filter=condition)
        aggregates[f"cal_s{i}"] = Count("id", filter=condition & Q(status="SUCCESS"))
    row = logs.aggregate(**aggregates)
    return {name: (value or 0) if name != "last_at" else value for name, value in row.items()}


def recount_errors(
    client_id: int, start: dt.datetime, end: dt.datetime, **filters: str
) -> dict[tuple[str, str], tuple[int, dt.datetime]]:
    rows = (
        _logs(client_id, start, end, **filters)
        .exclude(error_type="", error_node="")
        .values("error_type", "error_node")
        .annotate(runs=Count("id"), last=Max("timestamp"))
        .order_by()
    )
    return {(r["error_type"], r["error_node"]): (r["runs"], r["last"]) for r in rows}


def recount_durations(
    client_id: int, start: dt.datetime, end: dt.datetime, **filters: str
) -> dict[int, int]:
    histogram: dict[int, int] = {}
    values = _logs(client_id, start, end, **filters).values_list(
        "execution_time_seconds", flat=True
    )
    for seconds in values:
        if seconds is not None:
            bucket = duration_bucket(seconds)
            histogram[bucket] = histogram.get(bucket, 0) + 1
    return histogram


def assert_totals_match(totals: Any, expected: dict[str, Any]) -> None:
    """The read model's Totals equal the recount: counts exactly, float sums to rounding."""
    for name, value in expected.items():
        if name == "last_at":
            if expected["runs"]:
                assert totals.last_at == value, name
            continue
        got = totals[name]
        if name.endswith("_sum"):
            assert abs(got - value) <= 1e-9 * max(1.0, abs(value)), (name, got, value)
        else:
            assert got == value, (name, got, value)
