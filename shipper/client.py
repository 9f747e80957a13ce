"""The client: a bounded queue in front of one background worker, per process.

``ship_log_async`` is enqueue-only: no serialising, no I/O, no lock held across anything slow.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from typing import Any

from . import config as config_module
from ._guard import guarded, report_internal_error
from .config import Config, get_config, set_config
from .delivery import spool_or_drop
from .encoding import encode_all
from .spool import Spool
from .stats import COUNTERS, Stats
from .worker import FLUSH, STOP, Worker

logger = logging.getLogger("shipper")

# A full queue is reported at most this often (seconds): the host's logs must stay readable.
_FULL_WARN_EVERY = 60.0
# How long closing waits for a request in flight (seconds) before it takes the worker's
# batch back: a request ends by its own read timeout (10 s), too long for an exit.
_STOP_WAIT = 0.5


class Client:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.spool = Spool(config.spool_dir, config.spool_max_bytes) if config.spool_dir else None
        self._init_runtime()

    def _init_runtime(self) -> None:
        """Everything that must not be shared with a forked child."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.queue: queue.Queue[Any] = queue.Queue(self.config.max_queue_size)
        self.stats = Stats()
        self.worker: Worker | None = None
        self._last_full_warning = 0.0
        self._closed = False

    def after_fork(self) -> None:
        """In a forked child: the parent's queue and worker stay the parent's business."""
        self._init_runtime()

    # -- hot path -----------------------------------------------------------------------------

    def enqueue(self, payload: Any) -> bool:
        if self._pid != os.getpid():
            self.after_fork()
        if self._closed:
            # Shipped after the exit flush (a late atexit handler, a daemon thread): no worker
            # will ever read the queue again, so spool it now rather than lose it there.
            self.stats.add(queued=1)
            self._dispose([payload], None)
            return False
        worker = self.worker
        if worker is None or not worker.is_alive():
            self.start()
        try:
            self.queue.put_nowait(payload)
        except queue.Full:
            self.stats.add(dropped=1)
            now = time.monotonic()
            if now - self._last_full_warning >= _FULL_WARN_EVERY:
                self._last_full_warning = now
                logger.warning(
                    "shipper: queue full (%d logs); dropping logs until the worker catches up",
                    self.config.max_queue_size,
                )
            return False
        self.stats.add(queued=1)
        return True

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self.worker is not None and self.worker.is_alive():
                return
            self.worker = Worker(
                config=self.config, q=self.queue, stats=self.stats, spool=self.spool
            )
            self.worker.start()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued log is settled (sent, rejected or spooled) or ``timeout``
        seconds pass. Returns True when nothing is left."""
        if self._pid != os.getpid():
            self.after_fork()
        q = self.queue
        if q.unfinished_tasks == 0:
            return True
        if self.worker is None or not self.worker.is_alive():
            self.start()
        # Close the batch being collected instead of waiting for its age limit.
        with contextlib.suppress(queue.Full):
            q.put_nowait(FLUSH)
        deadline = time.monotonic() + max(0.0, timeout)
        # queue.Queue's own bookkeeping: unfinished_tasks drops on task_done().
        with q.all_tasks_done:
            while q.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                q.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float, handoff: Client | None = None) -> bool:
        """Flush for at most ``timeout`` seconds, stop the worker, then hand what is left to
        ``handoff`` or the spool. Returns True if everything was sent."""
        if self._pid != os.getpid():
            self.after_fork()
        flushed = self.flush(timeout) if handoff is None else True
        with self._lock:
            self._closed = True
            worker = self.worker
        leftovers: list[Any] = [] if worker is None else worker.stop(_STOP_WAIT)
        while True:
            try:
                obj = self.queue.get_nowait()
            except queue.Empty:
                break
            if obj is not STOP and obj is not FLUSH:
                leftovers.append(obj)
            self.queue.task_done()
        if leftovers:
            self._dispose(leftovers, handoff)
        return flushed and not leftovers

    def _dispose(self, leftovers: list[Any], handoff: Client | None) -> None:
        if handoff is not None:
            for obj in leftovers:
                handoff.enqueue(obj)
            return
        items = encode_all(leftovers, self.config, self.stats)
        if items and spool_or_drop(items, self.spool, self.stats):
            logger.info("shipper: %d unsent log(s) spooled at exit", len(items))

    def snapshot(self) -> dict[str, int]:
        counts = self.stats.snapshot()
        counts["pending"] = self.queue.qsize()
        return counts


# -- the process-wide default client ---------------------------------------------------------

_default: Client | None = None
_default_lock = threading.Lock()
_disabled_logged = False


def _client() -> Client | None:
    global _default
    client = _default
    if client is not None:
        return client
    config = get_config()
    if not config.configured:
        return None
    with _default_lock:
        if _default is None:
            _default = Client(config)
        return _default


def _log_disabled_once() -> None:
    global _disabled_logged
    if not _disabled_logged:
        _disabled_logged = True
        config = get_config()
        reason = "disabled" if not config.enabled else "LOG_COLLECTOR_URL is not set"
        logger.info("shipper: centralized logging is off (%s); logs are not shipped", reason)


@guarded(default=None)
def ship_log_async(payload: dict[str, Any]) -> None:
    """Queue one log for sending and return at once. Never blocks, never raises.

    Do not mutate ``payload`` afterwards: it is serialised later, on the worker thread.
    """
    client = _default or _client()
    if client is None:
        _log_disabled_once()
        return
    client.enqueue(payload)


@guarded(default=False)
def flush(timeout: float = 5.0) -> bool:
    """Wait up to ``timeout`` seconds for every queued log to be sent (or spooled).

    Blocking: inside an asyncio loop, call it through ``loop.run_in_executor``.
    """
    client = _default
    return True if client is None else client.flush(timeout)


@guarded(default=False)
def shutdown(timeout: float = 5.0) -> bool:
    """Flush for at most ``timeout`` seconds, stop the worker, spool what is left."""
    global _default
    with _default_lock:
        client, _default = _default, None
    return True if client is None else client.close(timeout)


def configure(**settings: Any) -> Config:
    """Replace the configuration: the environment, overridden by ``settings`` (the field
    names of ``shipper.config.Config``, e.g. ``collector_url``, ``spool_dir``,
    ``batch_size``). Logs already queued move to the new configuration. Unknown names raise
    ``TypeError``."""
    global _default
    config = Config.from_env(**settings)
    set_config(config)
    new = Client(config) if config.configured else None
    with _default_lock:
        old, _default = _default, new
    if old is not None:
        try:
            old.close(0.0, handoff=new)
        except Exception as exc:
            report_internal_error("configure", exc)
    try:
        if new is not None and new.spool is not None and new.spool.files():
            new.start()  # drain what a previous run left behind
    except OSError as exc:
        logger.warning("shipper: cannot read LOG_SPOOL_DIR (%s)", type(exc).__name__)
    return config


@guarded(default={})
def stats() -> dict[str, int]:
    """Counters since the client started: queued, sent, duplicates, retried, rejected,
    spooled, unspooled, dropped, and the current queue length (pending)."""
    client = _default
    if client is None:
        return {**dict.fromkeys(COUNTERS, 0), "pending": 0}
    return client.snapshot()


def _after_fork_in_child() -> None:
    global _default_lock
    # A lock held by another thread at fork() time would stay held forever in the child.
    _default_lock = threading.Lock()
    config_module._lock = threading.Lock()
    client = _default
    if client is not None:
        client.after_fork()


def _at_exit() -> None:
    client = _default
    if client is None or client._pid != os.getpid():
        return
    try:
        client.close(client.config.exit_timeout)
    except Exception as exc:
        report_internal_error("atexit", exc)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)

__all__ = ["Client", "configure", "flush", "ship_log_async", "shutdown", "stats"]
