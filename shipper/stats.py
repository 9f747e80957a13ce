"""The counters behind ``shipper.stats()``: one thread-safe set per client."""

from __future__ import annotations

import threading

COUNTERS = (
    "queued",
    "sent",
    "duplicates",
    "retried",
    "rejected",
    "spooled",
    "unspooled",
    "dropped",
)


class Stats:
    """Thread-safe counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                self._counts[name] += delta

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
