"""A fixed set of logs whose numbers the tests compute by hand.

The window under test is the custom range 2026-11-01 .. 2026-11-10 (end day included),
i.e. [2026-11-01T00:00Z, 2026-11-11T00:00Z); the previous window is
[2026-10-22T00:00Z, 2026-11-01T00:00Z).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from collector.models import Client, WorkflowLog
from collector.tests.factories import WorkflowLogFactory

UTC = dt.UTC
WINDOW_START = dt.datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_END = dt.datetime(2026, 11, 11, tzinfo=UTC)
CUSTOM_QUERY = {"period": "custom", "start": "2026-11-01", "end": "2026-11-10"}


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def log(client: Client, timestamp: dt.datetime, **fields: Any) -> WorkflowLog:
    defaults: dict[str, Any] = {
        "status": "SUCCESS",
        "environment": "production",
        "workflow_version": "v1.0",
        "error_type": "",
        "error_node": "",
    }
    return WorkflowLogFactory(client=client, timestamp=timestamp, **(defaults | fields))


def seed_fixed_logs(client: Client, other: Client) -> dict[str, WorkflowLog]:
    """Current window: 6 runs (5 production, 1 staging); previous window: 2 runs."""
    logs = {
        # At the window's first instant: inside.
        "L1": log(
            client,
            at(2026, 11, 1),
            ticket_id="T1",
            overall_confidence=0.9,
            hallucination_risk=0.1,
            execution_time_seconds=1.0,
            react_iterations=2,
        ),
        "L2": log(
            client,
            at(2026, 11, 3, 12),
            ticket_id="T2",
            overall_confidence=0.8,
            hallucination_risk=0.2,
            execution_time_seconds=2.0,
            react_iterations=3,
        ),
        "L3": log(
            client,
            at(2026, 11, 5, 8, 30),
            ticket_id="T3",
            status="FAILED",
            overall_confidence=0.4,
            hallucination_risk=0.6,
            execution_time_seconds=3.0,
            react_iterations=5,
            error_type="ToolTimeout",
            error_node="react_agent",
        ),
        "L4": log(
            client,
            at(2026, 11, 7, 23, 59, 59),
            ticket_id="T3",
            status="ERROR",
            overall_confidence=None,
            hallucination_risk=None,
            execution_time_seconds=10.0,
            react_iterations=None,
            error_type="RateLimitError",
            error_node="planner",
        ),
        # One second before the window's end: inside.
        "L5": log(
            client,
            at(2026, 11, 10, 23, 59, 59),
            ticket_id="T4",
            status="ESCALATED",
            overall_confidence=0.7,
            hallucination_risk=0.3,
            execution_time_seconds=4.0,
            react_iterations=1,
        ),
        "L10": log(
            client,
            at(2026, 11, 2, 9),
            ticket_id="T10",
            environment="staging",
            workflow_version="v2.0",
            overall_confidence=0.1,
            hallucination_risk=0.5,
            execution_time_seconds=5.0,
            react_iterations=4,
        ),
        # At the window's end: outside (the window is half-open).
        "L6": log(client, at(2026, 11, 11), ticket_id="T6"),
        # One second before the window: in the previous window.
        "L7": log(
            client,
            at(2026, 10, 31, 23, 59, 59),
            ticket_id="T0",
            overall_confidence=0.5,
            hallucination_risk=0.5,
            execution_time_seconds=6.0,
            react_iterations=4,
        ),
        "L8": log(
            client,
            at(2026, 10, 22),
            ticket_id="T0",
            status="FAILED",
            overall_confidence=0.3,
            hallucination_risk=0.7,
            execution_time_seconds=8.0,
            react_iterations=6,
            error_type="ToolTimeout",
            error_node="react_agent",
        ),
        # One second before the previous window: in neither.
        "L9": log(client, at(2026, 10, 21, 23, 59, 59), ticket_id="T9"),
        # Another client's run inside the window: never counted for ``client``.
        "OTHER": log(
            other,
            at(2026, 11, 4),
            ticket_id="X1",
            status="FAILED",
            error_type="ToolTimeout",
            error_node="react_agent",
        ),
    }
    return logs
