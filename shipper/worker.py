"""The background worker: takes logs off the queue, batches them, hands them to delivery.

One daemon thread per client per process. It owns all I/O (serialising, and through
``Delivery`` the HTTP and the spool), so ``ship_log_async`` never does any.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import Any

from ._guard import report_internal_error
from .config import Config
from .delivery import Delivery
from .encoding import Item, encode_all
from .spool import Spool
from .stats import Stats

# Spill the queue to the spool (rather than wait on the network) once it is this full.
HIGH_WATER = 0.8


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


FLUSH = _Sentinel("flush")  # close the batch being collected now
STOP = _Sentinel("stop")  # the worker should end


class Worker(threading.Thread):
    def __init__(
        self,
        *,
        config: Config,
        q: queue.Queue[Any],
        stats: Stats,
        spool: Spool | None,
    ) -> None:
        super().__init__(name="shipper-worker", daemon=True)
        self.config = config
        self.queue = q
        self.stats = stats
        self._stopping = threading.Event()  # not _stop: a method of Thread itself
        self.delivery = Delivery(
            config=config,
            stats=stats,
            spool=spool,
            stop=self._stopping,
            backlogged=self._backlogged,
            hold_refused=True,
        )
        # What the worker holds that is not in the queue: handed back by ``stop`` if the
        # worker is still busy with it.
        self._inflight: list[Item] = []
        # Undelivered logs left when stopping, handed back by ``stop``.
        self._leftover: list[Item] = []
        # Set (under the lock) once ``stop`` has handed ``_leftover`` back: anything the
        # worker still fails to deliver after that, it spools itself, or nobody would.
        self._handoff_lock = threading.Lock()
        self._handed_over = False

    def _backlogged(self) -> bool:
        return self.queue.qsize() >= HIGH_WATER * self.config.max_queue_size

    def stop(self, timeout: float) -> list[Item]:
        """End the worker; return the logs it holds and will not deliver, for the caller to
        hand over or spool (the ones still in the queue are the queue owner's).

        Every backoff and retry wait ends at once. A request in flight ends by its own
        timeout, which is waited for at most ``timeout`` seconds: if the worker is still busy
        then, the batch it holds is handed back too, and whatever it fails to deliver after
        this call it spools itself (or, without a spool, drops and counts). Safe on a worker
        that never started or already ended.
        """
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(STOP)
        if self.is_alive():
            self.join(timeout)
        with self._handoff_lock:
            self._handed_over = True
            unsent = list(self._inflight) if self.is_alive() else []
            unsent += self._leftover
            self._leftover = []
        return unsent

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        delivery = self.delivery
        try:
            with contextlib.suppress(Exception):
                delivery.drain_spool()  # what a previous run left behind goes first
            while True:
                try:
                    items, stop = self._next_batch()
                    if items:
                        self._process(items)
                    if stop or self._stopping.is_set():
                        return
                    delivery.drain_spool()
                except Exception as exc:
                    report_internal_error("worker", exc)
                    self._stopping.wait(0.1)
        finally:
            delivery.close()

    def _next_batch(self) -> tuple[list[Item], bool]:
        items: list[Item] = []
        size = 0
        deadline = 0.0
        while True:
            if self._stopping.is_set():
                # Stopping: send what we hold, take nothing more; the closer takes the rest.
                return items, True
            if items:
                timeout = max(0.0, deadline - time.monotonic())
            elif self.delivery.drain_due():
                # Idle with a spool to drain and a collector to drain it to: take only what
                # is already queued, then go on to the next spool file at once.
                timeout = 0.0
            else:
                # Idle: wake up now and then to retry the spool.
                timeout = max(self.config.flush_interval, 0.05)
            try:
                obj = self.queue.get(timeout=timeout) if timeout else self.queue.get_nowait()
            except queue.Empty:
                return items, False
            if obj is STOP:
                self.queue.task_done()
                return items, True
            if obj is FLUSH:
                self.queue.task_done()
                return items, False
            item = self._encode(obj)
            if item is None:
                continue
            if not items:
                deadline = time.monotonic() + self.config.flush_interval
            items.append(item)
            size += len(item.body)
            if len(items) >= self.config.batch_size or size >= self.config.batch_max_bytes:
                return items, False

    def _encode(self, obj: Any) -> Item | None:
        encoded = encode_all([obj], self.config, self.stats)
        if not encoded:
            self.queue.task_done()  # settled: counted as rejected
            return None
        return encoded[0]

    def _process(self, items: list[Item]) -> None:
        self._inflight = items
        try:
            try:
                undelivered = self.delivery.send(items)
            except Exception as exc:  # a bug of ours: keep the logs all the same
                report_internal_error("deliver", exc)
                undelivered = items
            if undelivered and self._stopping.is_set():
                with self._handoff_lock:
                    if not self._handed_over:
                        self._leftover.extend(undelivered)
                        undelivered = []
            if undelivered:
                self.delivery.spool_or_drop(undelivered)
        finally:
            self._inflight = []
            for _ in items:
                self.queue.task_done()
