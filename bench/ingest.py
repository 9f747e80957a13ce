"""Ingestion throughput beside its references, in one run (a script, not a test).

    .venv/bin/python bench/ingest.py [--seconds 15] [--rounds 3] [--workers 2] [--threads 4]
                                     [--concurrency 8,32] [--kinds single,batch]

Serves the real service under gunicorn (the repository's gunicorn.conf.py, PostgreSQL over
TCP) with two more endpoints beside it (bench/reference: a bare DRF endpoint that finds the
key by its prefix, validates with the plain serializer and inserts one row, and a bare
``bulk_create`` batch endpoint), and drives both with wrk (bench/wrk/ingest.lua: the same
~4 KB documents, a fresh log_id in every one), interleaving Flusso and the reference run
by run, and in the same rotation the database's own ceilings, from 8 Python threads with
psycopg into a copy of the log table with its indexes: one INSERT per row (autocommit) in
the single rounds and ``executemany`` of 100-row batches in the batch rounds, so each ratio
compares runs made on the same table size and the same machine load. Prints requests and
documents per second, p50/p99, errors and the ratios the read-model issue sets (single
>= 1.0x bare at 8 and 32; batch >= 0.5x executemany).
Numbers are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    database_create,
    database_url,
    gunicorn,
    machine,
    manage,
)

DATABASE = "flusso_bench_ingest"
BATCH = 100
SETTINGS = {"DJANGO_SETTINGS_MODULE": "bench.settings"}


def template() -> dict:
    """A log as the shipper sends it, padded to about 4 KB with a realistic trace."""
    document = {
        "log_id": "__LOG_ID__",
        "schema_version": "1.0",
        "client_id": "bench",
        "environment": "production",
        "workflow_version": "v1.0",
        "ticket_id": "12345",
        "status": "SUCCESS",
        "timestamp": "2026-11-20T09:14:09.940000+00:00",
        "execution_time_seconds": 4.82,
        "metrics": {
            "react_iterations": 5,
            "overall_confidence": 0.82,
            "hallucination_risk": 0.12,
            "product_confidence": 0.91,
            "vision_matches": 4,
            "text_matches": 10,
        },
        "error": None,
        "trace": {"ticket": {"id": "12345", "requester_email": "sha256:0a9b8c7d6e5f4a3b"}},
    }
    steps = [
        {
            "iteration": i,
            "thought": f"Step {i}: compare the part number with the manual's exploded view.",
            "action": "search_manual",
            "action_input": {"query": f"cartridge 46{i} replacement", "top_k": 5},
            "observation": "Found 3 pages: installation, parts list, warranty. " * 3,
        }
        for i in range(1, 6)
    ]
    document["trace"]["react"] = {"iterations": steps}
    document["trace"]["final_output"] = {"answer": "The replacement cartridge is 46-2 " * 10}
    return document


def setup() -> str:
    database_create(DATABASE, fresh=True)
    manage(DATABASE, "migrate", "--no-input", "-v", "0")
    # The reference table (an app without migrations) once the service's tables exist.
    manage(DATABASE, "migrate", "--run-syncdb", "--no-input", "-v", "0", **SETTINGS)
    script = (
        "from collector.services import client_create, api_key_create;"
        "c = client_create(slug='bench', name='Bench');"
        "print(api_key_create(client=c, label='bench')[1])"
    )
    from common import service_env

    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=service_env(DATABASE, **SETTINGS),
        check=True,
        capture_output=True,
        text=True,
    )
    with psycopg.connect(database_url(DATABASE), autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_copy (LIKE collector_workflowlog INCLUDING ALL)")
    return output.stdout.strip().splitlines()[-1]


def wrk(
    url: str, *, path: str, body_file: str, batch: int, key: str, connections: int, seconds: int
) -> dict:
    command = [
        "wrk",
        f"-t{min(connections, 4)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "wrk" / "ingest.lua"),
        url + path,
        "--",
        body_file,
        str(batch),
        key,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    seconds_run = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds_run
    result["docs_per_s"] = result["rps"] * max(batch, 1)
    return result


def raw_ceiling(document: dict, *, rows_per_statement: int, threads: int, seconds: int) -> float:
    """Rows per second psycopg gets into the copy table from ``threads`` connections."""
    columns = (
        "client_id, log_id, ticket_id, environment, status, workflow_version, timestamp, "
        "received_at, execution_time_seconds, react_iterations, overall_confidence, "
        "hallucination_risk, product_confidence, vision_matches, text_matches, error_type, "
        "error_node, error_message, document"
    )
    sql = f"INSERT INTO raw_copy ({columns}) VALUES ({', '.join(['%s'] * 19)})"
    with psycopg.connect(database_url(DATABASE)) as conn:
        client_id = conn.execute("SELECT id FROM collector_client WHERE slug = 'bench'").fetchone()
    lock = threading.Lock()
    done = [0]
    deadline = time.monotonic() + seconds

    def row() -> tuple:
        body = dict(document, log_id=str(uuid.uuid4()))
        metrics = body["metrics"]
        return (
            client_id[0],
            body["log_id"],
            body["ticket_id"],
            "production",
            "SUCCESS",
            "v1.0",
            body["timestamp"],
            body["timestamp"],
            4.8,
            metrics["react_iterations"],
            metrics["overall_confidence"],
            metrics["hallucination_risk"],
            metrics["product_confidence"],
            4,
            10,
            "",
            "",
            "",
            Jsonb(body),
        )

    def work() -> None:
        count = 0
        with psycopg.connect(database_url(DATABASE), autocommit=rows_per_statement == 1) as conn:
            while time.monotonic() < deadline:
                if rows_per_statement == 1:
                    conn.execute(sql, row())
                else:
                    with conn.cursor() as cursor:
                        cursor.executemany(sql, [row() for _ in range(rows_per_statement)])
                    conn.commit()
                count += rows_per_statement
        with lock:
            done[0] += count

    started = time.monotonic()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return done[0] / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--worker-class", default="flusso_site.gunicorn_worker.BufferingThreadWorker"
    )
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument(
        "--kinds", default="single,batch", help="which endpoints to drive: single, batch or both"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    kinds = [kind for kind in ("single", "batch") if kind in args.kinds.split(",")]
    key = setup()
    document = template()
    body_file = Path(tempfile.mkdtemp()) / "log.json"
    body_file.write_text(json.dumps(document))
    print(machine())
    print(
        f"gunicorn {args.worker_class}, {args.workers} workers x {args.threads} threads; "
        f"{len(json.dumps(document))}-byte documents; {args.rounds} rounds of {args.seconds} s"
    )
    targets = {
        "flusso single": ("/api/v1/logs", 0),
        "bare single": ("/bench/bare/logs", 0),
        "flusso batch": ("/api/v1/logs/batch", BATCH),
        "bare batch": ("/bench/bare/logs/batch", BATCH),
    }
    results: dict[tuple[str, int], list[dict]] = {}
    with gunicorn(
        DATABASE,
        workers=args.workers,
        threads=args.threads,
        worker_class=args.worker_class,
        **SETTINGS,
        **dict(item.split("=", 1) for item in args.env),
    ) as server:
        for name, (path, batch) in targets.items():  # warm-up: connections, caches, prepared plans
            if name.split()[1] not in kinds:
                continue
            wrk(
                server.url,
                path=path,
                body_file=str(body_file),
                batch=batch,
                key=key,
                connections=8,
                seconds=2,
            )
        for connections in [int(c) for c in args.concurrency.split(",")]:
            for round_number in range(args.rounds):
                for kind in kinds:
                    # The raw ceiling runs in the same rotation as the two endpoints, so
                    # the ratio compares runs on the same table size and machine load.
                    order = [f"flusso {kind}", f"bare {kind}", f"raw {kind}"]
                    shift = round_number % len(order)
                    for name in order[shift:] + order[:shift]:
                        if name.startswith("raw"):
                            rows = raw_ceiling(
                                document,
                                rows_per_statement=BATCH if kind == "batch" else 1,
                                threads=8,
                                seconds=args.seconds,
                            )
                            results.setdefault((name, connections), []).append(
                                {"rps": rows, "docs_per_s": rows}
                            )
                            print(
                                f"  c={connections:<3} {name:14s} {rows:8.0f} rows/s "
                                "(psycopg, 8 threads)",
                                flush=True,
                            )
                            continue
                        path, batch = targets[name]
                        result = wrk(
                            server.url,
                            path=path,
                            body_file=str(body_file),
                            batch=batch,
                            key=key,
                            connections=connections,
                            seconds=args.seconds,
                        )
                        results.setdefault((name, connections), []).append(result)
                        errors = result["status_errors"] + result["socket_errors"]
                        print(
                            f"  c={connections:<3} {name:14s} {result['rps']:8.0f} req/s "
                            f"{result['docs_per_s']:8.0f} docs/s  "
                            f"p50 {result['p50_us'] / 1000:6.1f} ms  "
                            f"p99 {result['p99_us'] / 1000:6.1f} ms  errors {errors}",
                            flush=True,
                        )

    def median(name: str, connections: int, field: str) -> float:
        return statistics.median(r[field] for r in results[(name, connections)])

    print("\nmedians over the rounds (raw: psycopg from 8 threads; single = one INSERT per row")
    print("in autocommit, batch = executemany of 100 rows per transaction)")
    for name, connections in results:
        if name.startswith("raw"):
            print(f"  c={connections:<3} {name:14s} {median(name, connections, 'rps'):8.0f} rows/s")
            continue
        print(
            f"  c={connections:<3} {name:14s} {median(name, connections, 'rps'):8.0f} req/s "
            f"{median(name, connections, 'docs_per_s'):8.0f} docs/s  "
            f"p99 {median(name, connections, 'p99_us') / 1000:6.1f} ms"
        )
    print("\nratios")
    for connections in [int(c) for c in args.concurrency.split(",")]:
        parts = []
        if "single" in kinds:
            single = median("flusso single", connections, "rps") / median(
                "bare single", connections, "rps"
            )
            p99 = median("flusso single", connections, "p99_us") / median(
                "bare single", connections, "p99_us"
            )
            parts.append(
                f"single {single:.2f}x bare (target >= 1.0), p99 {p99:.2f}x bare (target <= 1.0)"
            )
        if "batch" in kinds:
            batch = median("flusso batch", connections, "docs_per_s")
            bare_batch = median("bare batch", connections, "docs_per_s")
            raw = median("raw batch", connections, "docs_per_s")
            parts.append(
                f"batch {batch / bare_batch:.2f}x bare bulk_create, "
                f"{batch / raw:.2f}x raw executemany (target >= 0.5)"
            )
        print(f"  c={connections}: " + "; ".join(parts))
    os.remove(body_file)


if __name__ == "__main__":
    main()
