"""Shared pieces of the benchmarks: databases, gunicorn servers, synthetic logs.

Every benchmark runs the real service under gunicorn (``gunicorn.conf.py``) on PostgreSQL
and measures it over HTTP beside a reference in the same run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def database_url(name: str) -> str:
    return f"{PG}/{name}"


def database_create(name: str, *, fresh: bool = False) -> bool:
    """Create the database if missing (or drop it first); returns whether it was made."""
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            return True
    return False


def service_env(database: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(database),
        DJANGO_SETTINGS_MODULE="flusso_site.settings.service",
        DEBUG="false",
        SECRET_KEY="bench-only-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_COOKIES="false",
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESS_LOG="",
        # The benchmarks send far more than a real deployment's rate, and wrk drives one
        # key over many connections at once (the bare reference has no such limits).
        INGEST_RATE_LIMIT="100000000/minute",
        INGEST_MAX_CONCURRENT_PER_CLIENT="0",
    )
    env.update(extra)
    return env


def manage(database: str, *args: str, **extra: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=service_env(database, **extra), check=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    url: str
    pid: int  # gunicorn's master process


@contextlib.contextmanager
def gunicorn(
    database: str,
    *,
    workers: int = 2,
    threads: int = 4,
    worker_class: str = "flusso_site.gunicorn_worker.BufferingThreadWorker",
    **env: str,
) -> Iterator[Server]:
    """The service under gunicorn with the repository's gunicorn.conf.py."""
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "flusso_site.wsgi", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=service_env(
            database,
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS=str(threads),
            GUNICORN_WORKER_CLASS=worker_class,
            **env,
        ),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield Server(url=url, pid=process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def worker_pids(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds of samples in seconds."""
    return statistics.median(samples) * 1000, percentile(samples, 0.95) * 1000


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(database_url("postgres")) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    return f"{os.cpu_count()} vCPU {cpu}, Python {sys.version.split()[0]}, PostgreSQL {version}"
