"""Full-text search at scale, and what its index costs ingestion (a script, not a test).

    .venv/bin/python bench/search.py [--logs 1000000] [--rounds 5] [--inserts 1000]

Makes a throwaway PostgreSQL database (flusso_bench_search, dropped first and at the end
unless --keep), migrates it and then:

1. **Ingestion cost of the index**: on a table of 20,000 logs, stores ``--inserts`` logs
   one at a time through ``collector.services.store.logs_store`` (the statement ingestion
   runs, one transaction per log), rounds alternating without and with migration 0006
   (the generated search column and its GIN index).
2. **Fill**: ``--logs`` synthetic logs (5 clients, the largest 40 %, over 90 days) with
   ticket descriptions, ReAct thoughts and observations, answers and error messages
   written from a small vocabulary, so word frequencies are known: "the" in every log,
   "faucet" in 20 %, "faucet leaking" in 5 %, a model code such as "MX417" in 0.1 %,
   "zanzibar" in 0.01 %. Migration 0006's column and index are added after the fill
   (timed: what the migration costs on a database of that size), then ANALYZE.
3. **Queries**: the log viewer's own selectors (``log_page``, ``log_count``) for the
   largest client, warm, the median of ``--rounds``; and the rare word once more with
   bitmap scans off, which is the plan without the index.

Numbers are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, database_create, database_url, machine, manage, service_env

DATABASE = "flusso_bench_search"
CLIENTS = 5
LARGEST_SHARE = 0.40
DAYS = 90
# Ingestion cost: rounds of single stores (alternating without and with the search
# column) and, in each, one INSERT of this many generated logs.
ROUNDS_OF_INSERTS = 8
BULK_ROWS = 5_000

# The document of every synthetic log: its words say how often each occurs (see above).
DOCUMENT_SQL = """
jsonb_build_object(
  'ticket_id', (100000 + g)::text, 'status', status,
  'trace', jsonb_build_object(
    'ticket', jsonb_build_object(
      'id', (100000 + g)::text,
      'subject', 'sha256:' || substr(md5(g::text), 1, 16),
      'channel', 'email',
      'tags', jsonb_build_array(product, 'parts'),
      'description', 'Hello, my ' || product || ' is ' || problem || ' since the '
        || 'weekend. Model ' || code || '.' || CASE WHEN g %% 10000 = 0 THEN ' zanzibar'
        ELSE '' END),
    'react', jsonb_build_object('iterations', jsonb_build_array(
      jsonb_build_object('iteration', 1, 'thought', 'Identify the ' || product
        || ' model from the description first.', 'action', 'kb_search',
        'observation', 'Top match ' || code || ' score 0.91 in the catalogue'),
      jsonb_build_object('iteration', 2, 'thought', 'Find the replacement part for the '
        || code || ' and check stock.', 'action', 'inventory',
        'observation', 'Part CRT-' || (g %% 97) || ' in stock at the warehouse'))),
    'output', jsonb_build_object('action', 'reply', 'text', 'Your ' || product || ' needs '
      || 'part CRT-' || (g %% 97) || '; we have sent the instructions.')),
  'error', CASE WHEN status IN ('FAILED', 'ERROR') THEN jsonb_build_object(
    'type', 'ToolTimeout', 'message', 'inventory lookup timed out after 30 s',
    'node', 'react_agent') ELSE NULL END)
"""

FILL_SQL = f"""
INSERT INTO collector_workflowlog (client_id, log_id, ticket_id, environment, status,
  workflow_version, timestamp, received_at, execution_time_seconds, react_iterations,
  overall_confidence, hallucination_risk, product_confidence, vision_matches, text_matches,
  error_type, error_node, error_message, document)
SELECT %(client)s, gen_random_uuid(), (100000 + g)::text,
  CASE WHEN g %% 5 = 0 THEN 'staging' ELSE 'production' END, status, 'v1.0', ts, ts,
  1 + 9 * random(), 2, 0.35 + 0.65 * random(), 0.5 * random(), random(), 1, 3,
  CASE WHEN status IN ('FAILED', 'ERROR') THEN 'ToolTimeout' ELSE '' END,
  CASE WHEN status IN ('FAILED', 'ERROR') THEN 'react_agent' ELSE '' END,
  CASE WHEN status IN ('FAILED', 'ERROR') THEN 'inventory lookup timed out' ELSE '' END,
  {DOCUMENT_SQL}
FROM (
  SELECT g + %(offset)s AS g, now() - random() * interval '{DAYS} days' AS ts,
    (ARRAY['faucet', 'shower', 'sink', 'toilet', 'boiler'])[1 + g %% 5] AS product,
    (ARRAY['leaking', 'dripping', 'broken', 'noisy'])[1 + (g / 5) %% 4] AS problem,
    'MX' || (g %% 1000) AS code,
    CASE WHEN s < 0.70 THEN 'SUCCESS' WHEN s < 0.82 THEN 'FAILED'
         WHEN s < 0.90 THEN 'ERROR' ELSE 'ESCALATED' END AS status
  FROM (SELECT g, random() AS s FROM generate_series(1, %(logs)s) g) numbered
) generated
"""


def setup_django(database: str) -> None:
    os.environ.update(service_env(database))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def clients_create(conn: psycopg.Connection) -> list[int]:
    ids = []
    for n in range(CLIENTS):
        row = conn.execute(
            "INSERT INTO collector_client (name, slug, is_active, created_at) "
            "VALUES (%s, %s, true, now()) RETURNING id",
            [f"Client {n}", f"c{n:02d}"],
        ).fetchone()
        ids.append(row[0])
    return ids


def fill(conn: psycopg.Connection, client_ids: list[int], logs: int, offset: int = 0) -> None:
    """``logs`` spread over the clients, the first taking LARGEST_SHARE (all, alone)."""
    rest = len(client_ids) - 1
    shares = [LARGEST_SHARE if rest else 1.0] + [(1 - LARGEST_SHARE) / max(rest, 1)] * rest
    for client_id, share in zip(client_ids, shares, strict=True):
        count = round(logs * share)
        # In chunks, so one statement never holds too much in memory.
        for start in range(0, count, 100_000):
            n = min(100_000, count - start)
            conn.execute(FILL_SQL, {"client": client_id, "logs": n, "offset": offset + start})


def search_drop(conn: psycopg.Connection) -> None:
    """The table without migration 0006: no search column, no index."""
    from collector.search import SEARCH_COLUMN, SEARCH_INDEX_NAME

    conn.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX_NAME}")
    conn.execute(f"ALTER TABLE collector_workflowlog DROP COLUMN IF EXISTS {SEARCH_COLUMN}")


def search_add(conn: psycopg.Connection) -> tuple[float, float]:
    """Migration 0006 again: (seconds adding the column, seconds building the index)."""
    from collector.search import SEARCH_COLUMN_SQL, SEARCH_INDEX_SQL

    search_drop(conn)  # dropping a column is instant; adding it again rewrites the table
    started = time.perf_counter()
    conn.execute(SEARCH_COLUMN_SQL)
    added = time.perf_counter()
    conn.execute(SEARCH_INDEX_SQL)
    return added - started, time.perf_counter() - added


def ingest_cost(client_id: int, inserts: int) -> dict[str, float]:
    """Mean milliseconds per stored log, without and with the index (alternating rounds)."""
    import datetime as dt
    import uuid

    from django.db import connection

    from collector.models import WorkflowLog
    from collector.services.store import logs_store

    def document(n: int) -> dict:
        return {
            "ticket_id": str(n),
            "status": "SUCCESS",
            "trace": {
                "ticket": {"id": str(n), "description": f"My faucet is leaking. Model MX{n}."},
                "react": {
                    "iterations": [
                        {"thought": "Identify the faucet model first.", "observation": "AUR-X2"}
                    ]
                    * 3
                },
                "output": {"text": "Your faucet needs part CRT-35; instructions sent."},
            },
        }

    def store_round() -> float:
        started = time.perf_counter()
        for n in range(inserts):
            now = dt.datetime.now(dt.UTC)
            log = WorkflowLog(
                client_id=client_id,
                log_id=uuid.uuid4(),
                ticket_id=str(n),
                environment="production",
                status="SUCCESS",
                workflow_version="v1.0",
                timestamp=now,
                received_at=now,
                overall_confidence=0.8,
                document=document(n),
            )
            logs_store(client_id=client_id, logs=[log])
        return (time.perf_counter() - started) / inserts * 1000

    raw = connection.cursor().connection
    labels = ("without search", "with search")
    singles: dict[str, list[float]] = {label: [] for label in labels}
    bulk: dict[str, list[float]] = {label: [] for label in labels}
    # Short rounds, alternated many times: on a shared machine the load drifts within a
    # run, and both arms should see the same drift.
    for round_number in range(ROUNDS_OF_INSERTS):
        for label in labels if round_number % 2 == 0 else labels[::-1]:
            if label == "with search":
                search_add(raw)
            else:
                search_drop(raw)
            singles[label].append(store_round())
            started = time.perf_counter()
            fill(raw, [client_id], BULK_ROWS, offset=20_000_000 + round_number * BULK_ROWS)
            bulk[label].append((time.perf_counter() - started) / BULK_ROWS * 1000)
    return {
        **{f"one at a time, {label}": statistics.median(singles[label]) for label in labels},
        **{
            f"{BULK_ROWS:,} in one INSERT, {label}": statistics.median(bulk[label])
            for label in labels
        },
    }


def timed(run: Callable[[], object], rounds: int) -> tuple[float, object]:
    run()  # warm
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inserts", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--ingest-only", action="store_true", help="only the ingestion cost")
    parser.add_argument("--database", default=DATABASE, help="the throwaway database's name")
    parser.add_argument(
        "--queries-only", action="store_true", help="only the queries, on a database --keep kept"
    )
    args = parser.parse_args()

    database = args.database
    try:
        if args.queries_only:
            setup_django(database)
            print(machine())
            queries(args)
        else:
            database_create(database, fresh=True)
            run(args, database)
    finally:
        if not args.keep:
            # FORCE ends this script's own connections too: it is exiting.
            with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')


def run(args: argparse.Namespace, database: str) -> None:
    manage(database, "migrate", "--no-input", "-v", "0")
    setup_django(database)
    print(machine())
    with psycopg.connect(database_url(database), autocommit=True) as conn:
        client_ids = clients_create(conn)
        fill(conn, client_ids[:1], 20_000, offset=10_000_000)
        conn.execute("ANALYZE collector_workflowlog")
    cost = ingest_cost(client_ids[0], args.inserts)
    print(
        f"\nMilliseconds a log (logs_store: {args.inserts} a round; median of "
        f"{ROUNDS_OF_INSERTS // 2 * 2} alternating rounds):"
    )
    for label, ms in cost.items():
        print(f"  {label:42} {ms:7.3f}")
    if args.ingest_only:
        return

    with psycopg.connect(database_url(database), autocommit=True) as conn:
        search_drop(conn)
        started = time.perf_counter()
        fill(conn, client_ids, args.logs)
        filled = time.perf_counter() - started
        table_sql = (
            "SELECT sum(pg_table_size(inhrelid)) FROM pg_inherits "
            "WHERE inhparent = 'collector_workflowlog'::regclass"
        )
        before = conn.execute(table_sql).fetchone()[0]
        added, built = search_add(conn)
        conn.execute("VACUUM ANALYZE collector_workflowlog")
        after = conn.execute(table_sql).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM collector_workflowlog").fetchone()[0]
        index = conn.execute(
            "SELECT sum(pg_relation_size(inhrelid)) FROM pg_inherits "
            "WHERE inhparent = 'log_search'::regclass"
        ).fetchone()[0]
    mb = 1024 * 1024
    print(
        f"\nFilled {total:,} logs in {filled:.0f} s. Migration 0006: column added in "
        f"{added:.0f} s (table {before / mb:.0f} -> {after / mb:.0f} MB), "
        f"GIN index built in {built:.0f} s ({index / mb:.0f} MB)"
    )

    queries(args)


def queries(args: argparse.Namespace) -> None:
    """The log viewer's reads for the largest client: its count, then its page (which the
    count tells how to read); and the page forced each way (one round after a warm one)."""
    from django.db.models import Count

    from collector.models import Client, WorkflowLog
    from dashboard.selectors.logs import LogCount, LogFilters, log_count, log_page

    client = Client.objects.get(slug="c00")
    logs = WorkflowLog.objects.for_client(client).aggregate(n=Count("id"))["n"]
    total = WorkflowLog.objects.aggregate(n=Count("id"))["n"]
    print(f"Queries for the largest client ({logs:,} of {total:,} logs), median ms:")
    cases = [
        ("rare word (0.01 %)", LogFilters(q="zanzibar")),
        ("model code (0.1 %)", LogFilters(q="MX417")),
        ("two words (5 %)", LogFilters(q="faucet leaking")),
        ("common word (20 %)", LogFilters(q="faucet")),
        ("every log's word", LogFilters(q="the")),
        ("phrase", LogFilters(q='"inventory lookup timed out"')),
        (
            "common + FAILED + staging",
            LogFilters(q="faucet", status="FAILED", environment="staging"),
        ),
        ("rare, by confidence", LogFilters(q="zanzibar", sort="-confidence")),
        ("common, by confidence", LogFilters(q="faucet", sort="-confidence")),
        ("word in no log", LogFilters(q="xylophone")),
    ]
    print(f"  {'search':28} {'count':>7} {'page':>7} {'walked':>8} {'sorted':>8}  matches")
    for label, filters in cases:
        count_ms, found = timed(lambda f=filters: log_count(client=client, filters=f), args.rounds)
        page_ms, _ = timed(
            lambda f=filters, c=found: log_page(client=client, filters=f, count=c), args.rounds
        )
        # The page read each way, whatever the count says: what the choice is between
        # (a count that says "few" or "many" makes the page read so, and costs nothing).
        forced = {}
        for way, said in (("walked", LogCount(10**9, False)), ("sorted", LogCount(0, True))):
            forced[way], _ = timed(
                lambda f=filters, c=said: log_page(client=client, filters=f, count=c), 1
            )
        shown = f"{found.value:,}" if found.exact else f"> {found.value:,}"
        print(
            f"  {label:28} {count_ms:7.1f} {page_ms:7.1f} {forced['walked']:8.1f} "
            f"{forced['sorted']:8.1f}  {shown}"
        )


if __name__ == "__main__":
    main()
