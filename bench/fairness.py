"""What per-client fairness buys: other clients and the health check during one client's
flood, with the limit on and off, side by side (a script, not a test).

    .venv/bin/python bench/fairness.py [--seconds 10] [--rounds 2]

One PostgreSQL database (flusso_bench_fairness, made afresh), the service under gunicorn
with the repository's configuration (2 workers, 4 threads each, Redis for the shared
slots). A "hog" client keeps 16 batches of 200 large logs in flight, well within its rate
limit; meanwhile a probe asks for the health check, another client's whoami and posts one
of its logs, in turn, and times each answer. Each round runs the server with
INGEST_MAX_CONCURRENT_PER_CLIENT=4 (the default with Redis) and then 0 (no limit), so both
see the same machine. Prints p50/p90/max per probe and the ratio off/on of the p90s.
Recorded in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    database_create,
    gunicorn,
    machine,
    manage,
    percentile,
    service_env,
)

DATABASE = "flusso_bench_fairness"
REDIS_URL = "redis://127.0.0.1:6379/9"
FLOODERS = 16
BATCH = 200


def setup() -> tuple[str, str]:
    database_create(DATABASE, fresh=True)
    manage(DATABASE, "migrate", "--no-input", "-v", "0")
    script = (
        "from collector.services import client_create, api_key_create;"
        "h = client_create(slug='hog', name='Hog');"
        "o = client_create(slug='other', name='Other');"
        "print(api_key_create(client=h, label='bench')[1]);"
        "print(api_key_create(client=o, label='bench')[1])"
    )
    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=service_env(DATABASE),
        check=True,
        capture_output=True,
        text=True,
    )
    hog, other = output.stdout.strip().splitlines()[-2:]
    return hog, other


def document(ticket: str) -> dict:
    """About 10 KiB: a large log that takes the server a while to store."""
    return {
        "log_id": str(uuid.uuid4()),
        "schema_version": "1.0",
        "ticket_id": ticket,
        "status": "SUCCESS",
        "environment": "production",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "execution_time_seconds": 4.2,
        "trace": {"notes": ["step " * 200 for _ in range(10)]},
    }


def run(limit: int, hog: str, other: str, seconds: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"health": [], "whoami": [], "ingest": []}
    stop = threading.Event()
    with gunicorn(
        DATABASE,
        REDIS_URL=REDIS_URL,
        INGEST_RATE_LIMIT="100000/minute",
        INGEST_MAX_CONCURRENT_PER_CLIENT=str(limit),
    ) as server:

        def flood() -> None:
            session = requests.Session()
            while not stop.is_set():
                body = {"logs": [document("hog") for _ in range(BATCH)]}
                try:
                    session.post(
                        f"{server.url}/api/v1/logs/batch",
                        json=body,
                        headers={"Authorization": f"Bearer {hog}"},
                        timeout=120,
                    )
                except requests.RequestException:
                    time.sleep(0.1)

        threads = [threading.Thread(target=flood) for _ in range(FLOODERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2)  # the flood is in full swing
            headers = {"Authorization": f"Bearer {other}"}
            probes = {
                "health": lambda: requests.get(f"{server.url}/api/v1/health", timeout=120),
                "whoami": lambda: requests.get(
                    f"{server.url}/api/v1/whoami", headers=headers, timeout=120
                ),
                "ingest": lambda: requests.post(
                    f"{server.url}/api/v1/logs",
                    json=document("other"),
                    headers=headers,
                    timeout=120,
                ),
            }
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for name, probe in probes.items():
                    start = time.monotonic()
                    response = probe()
                    if response.status_code >= 400:
                        raise RuntimeError(f"{name} answered {response.status_code}")
                    times[name].append(time.monotonic() - start)
                time.sleep(0.1)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=180)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    hog, other = setup()
    results: dict[int, dict[str, list[float]]] = {4: {}, 0: {}}
    for _ in range(args.rounds):
        for limit in (4, 0):
            for name, samples in run(limit, hog, other, args.seconds).items():
                results[limit].setdefault(name, []).extend(samples)
    print(f"# fairness: {FLOODERS} batches of {BATCH} in flight from one client; {machine()}")
    print("| probe | limit 4: p50 / p90 / max (ms) | no limit: p50 / p90 / max (ms) | p90 off/on |")
    print("|---|---|---|---|")
    for name in ("health", "whoami", "ingest"):
        cells = []
        for limit in (4, 0):
            samples = results[limit][name]
            cells.append(
                f"{percentile(samples, 0.5) * 1000:.0f} / {percentile(samples, 0.9) * 1000:.0f}"
                f" / {max(samples) * 1000:.0f} (n={len(samples)})"
            )
        ratio = percentile(results[0][name], 0.9) / percentile(results[4][name], 0.9)
        print(f"| {name} | {cells[0]} | {cells[1]} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
