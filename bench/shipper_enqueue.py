"""What one ``ship_log_async`` call costs the workflow, beside a thread per log.

    .venv/bin/python bench/shipper_enqueue.py [--calls 20000]

Both designs get the same built log and a collector that cannot be reached (a closed local
port), so the number is the cost paid by the caller, not network time:

- shipper: ``ship_log_async(payload)`` (a put on the bounded queue; the worker sends later);
- naive: ``threading.Thread(target=post, args=(payload,)).start()``, one thread per log doing
  what the original shipper did (serialise and POST with a timeout).

Each call is timed alone (``perf_counter_ns``); the script prints median, p99 and max and the
ratio. Target: shipper p99 < 50 µs and at least 10x cheaper than a thread per log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

import shipper  # noqa: E402


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(call: Callable[[Any], Any], payload: Any, calls: int) -> list[int]:
    timings = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call(payload)
        timings.append(time.perf_counter_ns() - start)
    return timings


def summary(timings: list[int]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "median_us": statistics.median(ordered) / 1000,
        "p99_us": ordered[int(len(ordered) * 0.99) - 1] / 1000,
        "max_us": ordered[-1] / 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    calls = max(10_000, args.calls)

    url = f"http://127.0.0.1:{closed_port()}/api/v1/logs"
    state = json.loads((ROOT / "shipper/tests/samples/state_success.json").read_text())
    shipper.configure(
        collector_url=url,
        api_key="flk_000000000000_bench",
        client_id="bench",
        pii_salt="bench",
        max_queue_size=calls + 1000,  # measure enqueueing, not the full-queue path
    )
    payload = shipper.build_workflow_log(state, 0, 1)

    def naive(doc: dict[str, Any]) -> None:
        def post() -> None:
            with contextlib.suppress(requests.RequestException):
                requests.post(url, data=json.dumps(doc), timeout=10)

        threading.Thread(target=post, daemon=True).start()

    # Warm up both paths (imports, the worker thread, allocator).
    measure(shipper.ship_log_async, payload, 1000)
    measure(naive, payload, 200)

    ours = summary(measure(shipper.ship_log_async, payload, calls))
    theirs = summary(measure(naive, payload, calls))
    counts = shipper.stats()

    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}")
    print(f"python:  {sys.version.split()[0]} on {platform.system()} {platform.release()}")
    print(f"calls:   {calls} per design, log of {len(json.dumps(payload))} bytes, collector down")
    print(f"{'':16}{'median':>10}{'p99':>10}{'max':>12}")
    for name, s in (("ship_log_async", ours), ("thread per log", theirs)):
        print(f"{name:16}{s['median_us']:>8.2f}µs{s['p99_us']:>8.2f}µs{s['max_us']:>10.1f}µs")
    median_ratio = theirs["median_us"] / ours["median_us"]
    p99_ratio = theirs["p99_us"] / ours["p99_us"]
    print(
        f"ratio (thread per log / ship_log_async): median {median_ratio:.1f}x, p99 {p99_ratio:.1f}x"
    )
    print(f"shipper stats: queued={counts['queued']} dropped={counts['dropped']}")
    ok = ours["p99_us"] < 50 and theirs["p99_us"] >= 10 * ours["p99_us"]
    print("target (p99 < 50 µs, >= 10x cheaper):", "met" if ok else "NOT met")
    shipper.shutdown(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
