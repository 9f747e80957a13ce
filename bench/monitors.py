"""How long evaluating every monitor takes: 1,000 clients, 1 million logs (a script, not a test).

    .venv/bin/python bench/monitors.py [--clients 1000] [--logs 1000000] [--days 49] [--rounds 5]

Fills a PostgreSQL database (flusso_bench_monitors_<logs>; kept between runs, --refill to
start over) by SQL: the clients, then the logs spread over the last ``--days`` days at
random (80 % production, 20 % staging; 70 % SUCCESS), counted into the read model by
``manage.py rebuild_rollups``. Then, in this process, creates the default monitors (15
per client) and times ``monitors_evaluate`` over all of them, round after round, with the
number of queries each round made. The first round opens what the random data trips;
the later ones are the steady state cron sees every minute. Recorded in docs/monitors.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import database_create, database_url, machine, manage, service_env

FILL_SQL = """
INSERT INTO collector_workflowlog (client_id, log_id, ticket_id, environment, status,
  workflow_version, timestamp, received_at, execution_time_seconds, react_iterations,
  overall_confidence, hallucination_risk, product_confidence, vision_matches, text_matches,
  error_type, error_node, error_message, document)
SELECT %(first)s + (g %% %(clients)s), gen_random_uuid(), (100000 + g)::text,
  CASE WHEN r_env < 0.8 THEN 'production' ELSE 'staging' END, status, 'v1.0', ts, ts,
  exp(1.3 + 0.5 * sqrt(-2 * ln(greatest(r1, 1e-9))) * cos(2 * pi() * r2)),
  (1 + r3 * 8)::int,
  CASE WHEN status = 'ERROR' THEN NULL ELSE 0.35 + 0.65 * r4 END,
  CASE WHEN status = 'ERROR' THEN NULL ELSE 0.5 * r5 END,
  r4, (r5 * 5)::int, (r3 * 10)::int,
  CASE WHEN status IN ('FAILED', 'ERROR') THEN 'ToolTimeout' ELSE '' END,
  CASE WHEN status IN ('FAILED', 'ERROR') THEN 'react_agent' ELSE '' END,
  '', '{}'::jsonb
FROM (
  SELECT g, now() - random() * %(days)s * interval '1 day' AS ts, random() AS r_env,
    random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
    CASE WHEN s < 0.70 THEN 'SUCCESS' WHEN s < 0.82 THEN 'FAILED'
         WHEN s < 0.90 THEN 'ERROR' ELSE 'ESCALATED' END AS status
  FROM (SELECT g, random() AS s FROM generate_series(1, %(logs)s) g) numbered
) raw_rows
"""


def fill(database: str, clients: int, logs: int, days: int, refill: bool) -> None:
    created = database_create(database, fresh=refill)
    manage(database, "migrate", "--no-input", "-v", "0")
    with psycopg.connect(database_url(database), autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM collector_workflowlog").fetchone()[0]
        if count == logs and not created:
            return
        print(f"filling {database}: {clients:,} clients, {logs:,} logs ...", flush=True)
        started = time.perf_counter()
        conn.execute("TRUNCATE collector_client, auth_user CASCADE")
        conn.execute("SELECT setseed(0.42)")
        first = conn.execute(
            "INSERT INTO collector_client (name, slug, is_active, created_at) "
            "SELECT 'Client ' || i, 'c' || lpad(i::text, 4, '0'), true, now() "
            "FROM generate_series(0, %s - 1) i RETURNING id",
            [clients],
        ).fetchall()
        first_id = min(row[0] for row in first)
        conn.execute(FILL_SQL, {"first": first_id, "clients": clients, "logs": logs, "days": days})
        conn.execute(
            "INSERT INTO collector_logreceipt (client_id, log_id, timestamp) "
            "SELECT client_id, log_id, timestamp FROM collector_workflowlog"
        )
        print(f"  logs inserted in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    with psycopg.connect(database_url(database), autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        for statement in rollup_sql():
            conn.execute(statement)
        conn.execute("VACUUM ANALYZE")
    print(f"  rollups counted by SQL in {time.perf_counter() - started:.0f} s", flush=True)


def rollup_sql() -> list[str]:
    """The read model of the filled logs, counted by SQL as compacted rows at every grain.

    ``manage.py rebuild_rollups`` counts the same through Python (readmodel.facts) one
    client and chunk at a time, which takes minutes per 10,000 clients' days; this bench
    only needs rows of the right shape and numbers, so it counts in four GROUP BYs per
    table. (Values sitting exactly on a duration bucket's edge may land one bucket off from
    the Python count: irrelevant to a timing.)
    """
    from collector.readmodel import facts

    s, c = "execution_time_seconds", "overall_confidence"
    edges = facts.EXECUTION_TIME_EDGES
    exec_buckets = []
    for index in range(facts.EXECUTION_BUCKETS):
        low = f"{s} >= {edges[index - 1]}" if index else "true"
        high = f"{s} < {edges[index]}" if index < len(edges) else "true"
        exec_buckets.append(f"count(*) FILTER (WHERE {low} AND {high}) AS exec_h{index}")
    calibration = []
    for index in range(facts.CALIBRATION_BUCKETS):
        high = f"AND {c} < {(index + 1) / 10}" if index < facts.CALIBRATION_BUCKETS - 1 else ""
        where = f"{c} >= {index / 10} {high}"
        calibration.append(f"count(*) FILTER (WHERE {where}) AS cal_n{index}")
        calibration.append(
            f"count(*) FILTER (WHERE {where} AND status = 'SUCCESS') AS cal_s{index}"
        )
    measures = ", ".join(
        [
            "count(*) AS runs",
            *(
                f"count(*) FILTER (WHERE status = '{status}') AS {column}"
                for status, column in facts.STATUS_COLUMNS.items()
            ),
            "count(*) FILTER (WHERE error_type <> '') AS n_with_error",
            *(
                f"count({column}) AS {prefix}_n, coalesce(sum({column}), 0) AS {prefix}_sum"
                for column, prefix in facts.MEAN_METRICS
            ),
            *exec_buckets,
            *calibration,
            "max(timestamp) AS last_at",
        ]
    )
    names = ", ".join(
        ["runs", *facts.STATUS_COLUMNS.values(), "n_with_error"]
        + [f"{p}_{part}" for _, p in facts.MEAN_METRICS for part in ("n", "sum")]
        + [f"exec_h{i}" for i in range(facts.EXECUTION_BUCKETS)]
        + [f"cal_{k}{i}" for i in range(facts.CALIBRATION_BUCKETS) for k in ("n", "s")]
        + ["last_at"]
    )
    gamma = facts.DURATION_GAMMA
    low, high, last = (
        facts.DURATION_MIN_SECONDS,
        facts.DURATION_MAX_SECONDS,
        facts.DURATION_LAST_BUCKET,
    )
    bucket = (
        f"CASE WHEN {s} <= {low} THEN 0 WHEN {s} >= {high} THEN {last} ELSE "
        f"greatest(1, least(ceil(ln({s} / {low}) / ln({gamma})), {last}))::int END"
    )
    statements = ["TRUNCATE collector_rollup, collector_errorrollup, collector_durationrollup"]
    for grain, unit, per_dimension in (
        ("h", "hour", 1),
        ("d", "day", 1),
        ("H", "hour", 0),
        ("D", "day", 0),
    ):
        dims = "environment, workflow_version" if per_dimension else "'', ''"
        group = ", environment, workflow_version" if per_dimension else ""
        key = f"client_id, '{grain}', date_trunc('{unit}', timestamp), {dims}, true"
        cols = "client_id, grain, start, environment, workflow_version, compacted"
        by = f"GROUP BY client_id, date_trunc('{unit}', timestamp){group}"
        statements += [
            f"INSERT INTO collector_rollup ({cols}, {names}) "
            f"SELECT {key}, {measures} FROM collector_workflowlog {by}",
            f"INSERT INTO collector_durationrollup ({cols}, bucket, runs) "
            f"SELECT {key}, {bucket}, count(*) FROM collector_workflowlog "
            f"WHERE {s} IS NOT NULL {by}, {bucket}",
            f"INSERT INTO collector_errorrollup ({cols}, error_type, error_node, runs, last_at) "
            f"SELECT {key}, error_type, error_node, count(*), max(timestamp) "
            f"FROM collector_workflowlog WHERE error_type <> '' OR error_node <> '' "
            f"{by}, error_type, error_node",
        ]
    return statements


def measure(database: str, rounds: int) -> None:
    os.environ.update(service_env(database))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from collector.models import Client, WorkflowLog
    from dashboard.monitors.models import Monitor
    from dashboard.monitors.services.defaults import monitors_ensure_defaults
    from dashboard.monitors.services.evaluation import monitors_evaluate

    started = time.perf_counter()
    created = monitors_ensure_defaults()
    print(
        f"default monitors: {created:,} created in {time.perf_counter() - started:.2f} s; "
        f"{Monitor.objects.filter(enabled=True).count():,} enabled monitors, "
        f"{Client.objects.count():,} clients, {WorkflowLog.objects.count():,} logs"
    )
    for index in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            started, cpu = time.perf_counter(), time.process_time()
            summary = monitors_evaluate(now=timezone.now())
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        database = sum(float(query["time"]) for query in queries.captured_queries)
        # Wall time on a shared machine moves with its load; this process's CPU time and
        # the time spent waiting on PostgreSQL say where it went.
        print(
            f"round {index + 1}: {seconds:6.2f} s (Python CPU {cpu:5.2f} s, in queries "
            f"{database:5.2f} s), {len(queries):4d} queries; {summary.line()}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=49)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--refill", action="store_true")
    args = parser.parse_args()
    database = f"flusso_bench_monitors_{args.logs}"
    fill(database, args.clients, args.logs, args.days, args.refill)
    print(machine())
    measure(database, args.rounds)


if __name__ == "__main__":
    main()
