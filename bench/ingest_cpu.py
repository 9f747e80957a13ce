"""CPU per ingestion request, Flusso against the bare reference, in one process (a script).

    .venv/bin/python bench/ingest_cpu.py [--requests 1500] [--rounds 3] [--batch 0]

``bench/ingest.py`` measures throughput over HTTP, and on two shared cores its ratios move
with whatever else the machine runs. This measures what a request costs, which moves much
less: the same documents through the same WSGI application (every middleware, DRF, the
real PostgreSQL over TCP), one request at a time from one thread, alternating Flusso and
the bare endpoint round by round, and for each reports per request

- wall time,
- the Python process's CPU time (``time.process_time``), and
- the PostgreSQL backend's CPU time (utime + stime of the connection's server process,
  read from /proc, so this runs on Linux with the server on the same machine).

Python plus database CPU is what a saturated machine divides its cores by, so the ratio of
the two sides' sums is what the throughput ratio tends to once load is high. With
``--batch N`` each request is a batch of N documents instead. Numbers: docs/performance.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, service_env
from ingest import DATABASE, SETTINGS, setup, template

TARGETS = {"flusso": "/api/v1/logs", "bare": "/bench/bare/logs"}


def _environ(path: str, body: bytes, key: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
    }


def _backend_cpu_seconds() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500, help="per side and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=0, help="documents a request (0: single)")
    args = parser.parse_args()

    key = setup()
    # No background compaction: its thread's CPU would land in whichever side's round is
    # running, and its database CPU on a connection not measured. Flusso's rounds compact
    # on the measured connection instead, as part of what its requests cost.
    os.environ.update(service_env(DATABASE, **SETTINGS, ROLLUP_COMPACT_INTERVAL_SECONDS="-1"))
    os.chdir(ROOT)
    # The project first: bench/dashboard.py would stand in for the dashboard package.
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.wsgi import get_wsgi_application

    django.setup()
    application = get_wsgi_application()
    document = json.dumps(template())

    def body() -> bytes:
        if not args.batch:
            return document.replace("__LOG_ID__", str(uuid.uuid4())).encode()
        logs = ",".join(
            document.replace("__LOG_ID__", str(uuid.uuid4())) for _ in range(args.batch)
        )
        return f'{{"logs": [{logs}]}}'.encode()

    def send(path: str) -> None:
        answer: dict[str, str] = {}

        def start_response(status: str, headers: list, exc_info: Any = None) -> None:
            answer["status"] = status

        chunks = application(_environ(path, body(), key), start_response)
        content = b"".join(chunks)
        chunks.close()
        if not answer["status"].startswith(("200", "201")):
            raise RuntimeError(f"{path} answered {answer['status']}: {content[:300]!r}")

    from collector.readmodel.writes import rollups_compact

    def measure(path: str, count: int) -> tuple[float, float, float]:
        backend, wall, cpu = _backend_cpu_seconds(), time.perf_counter(), time.process_time()
        for _ in range(count):
            send(path + ("/batch" if args.batch else ""))
        if path == TARGETS["flusso"]:
            while rollups_compact():  # the delta rows these requests appended
                pass
        return (
            (time.perf_counter() - wall) / count * 1e3,
            (time.process_time() - cpu) / count * 1e3,
            (_backend_cpu_seconds() - backend) / count * 1e3,
        )

    print(machine())
    kind = f"batches of {args.batch}" if args.batch else "single logs"
    print(f"{kind}, {args.requests} requests a side and round, {args.rounds} rounds, one thread")
    for path in TARGETS.values():  # warm: connections, prepared statements, caches
        measure(path, max(5, args.requests // 20))
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in TARGETS}
    for round_number in range(args.rounds):
        order = list(TARGETS.items())
        if round_number % 2:
            order.reverse()
        for name, path in order:
            results[name].append(measure(path, args.requests))

    medians = {}
    print("\nmedians over the rounds, ms a request")
    for name, rounds in results.items():
        wall, python, database = (statistics.median(r[i] for r in rounds) for i in range(3))
        medians[name] = (wall, python, database)
        print(
            f"  {name:7s} wall {wall:7.3f}  python cpu {python:7.3f}  "
            f"database cpu {database:7.3f}  cpu {python + database:7.3f}"
        )
    flusso, bare = medians["flusso"], medians["bare"]
    print(
        f"\nbare / flusso: cpu {(bare[1] + bare[2]) / (flusso[1] + flusso[2]):.2f}x, "
        f"wall {bare[0] / flusso[0]:.2f}x (above 1.0: Flusso costs less a request)"
    )


if __name__ == "__main__":
    main()
