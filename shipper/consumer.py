"""The background worker: takes logs off the queue, batches them, sends, retries, spools.

One daemon thread per client per process. It owns all I/O (serialising, HTTP, the spool), so
``ship_log_async`` never does any.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._guard import report_internal_error
from .builder import bound_size
from .config import Config
from .schema import sanitize
from .spool import Spool
from .stats import Stats
from .transport import AUTH, INVALID, OK, TOO_LARGE, Outcome, Transport, dumps

logger = logging.getLogger("shipper")

# The collector refuses documents over 1 MiB.
MAX_DOC_BYTES = 1024 * 1024
# Spill the queue to the spool (rather than wait on the network) once it is this full.
HIGH_WATER = 0.8
# How often a worker waiting to retry looks at the queue (seconds): a full queue of 10,000
# logs at a few hundred logs per second takes far longer than this to fill.
_BACKLOG_CHECK_EVERY = 0.1


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


FLUSH = _Sentinel("flush")  # close the batch being collected now
STOP = _Sentinel("stop")  # the worker should end


@dataclass(frozen=True)
class Item:
    """One serialised log, ready to send."""

    body: bytes
    log_id: str


def encode(doc: Any, config: Config) -> Item | None:
    """Serialise a log for the wire; ``None`` if it cannot be sent at all (too big, not a
    mapping). Gives a log without ``log_id`` one, so every resend carries the same id."""
    if isinstance(doc, Item):
        return doc
    if not isinstance(doc, Mapping):
        return None
    doc = dict(doc)
    if not doc.get("log_id"):
        doc["log_id"] = str(uuid.uuid4())
    if not doc.get("client_id") and config.client_id:
        doc["client_id"] = config.client_id
    try:
        body = dumps(doc)
    except (TypeError, ValueError):
        # Not JSON-safe (a datetime, NaN, an object): make it so, with the usual scrubbing.
        doc = sanitize(doc)
        if not isinstance(doc, dict):
            return None
        body = dumps(doc)
    if len(body) > config.max_log_bytes and isinstance(doc.get("trace"), dict):
        doc = bound_size(doc, config.max_log_bytes)
        body = dumps(doc)
    if len(body) > MAX_DOC_BYTES:
        return None
    return Item(body, str(doc["log_id"]))


class Consumer(threading.Thread):
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
        self.spool = spool
        self.transport = Transport(config)
        self.stop_event = threading.Event()
        # What the worker holds that is not in the queue: read by shutdown() if we hang.
        self.inflight: list[Item] = []
        # Undelivered logs left when stopping, for the closer to spool or hand over.
        self.leftover: list[Item] = []
        # Set (under the lock) once the closer has taken ``leftover``: anything the worker
        # still fails to deliver after that, it spools itself, or nobody would.
        self.handoff_lock = threading.Lock()
        self.handed_over = False
        self._down_until = 0.0  # monotonic time before which we do not try the network
        self._down_attempts = 0
        self._auth_warned = False
        self._spool_dirty = spool is not None
        # Spool files the collector did not take on their last try: the others go first, so
        # one file it keeps failing on (a document that crashes it) does not block the rest.
        self._drain_failed: set[str] = set()
        # Monotonic time before which we do not look at the spool again: every file in it was
        # claimed by another drainer, which is sending them.
        self._drain_after = 0.0
        self._wait = self.stop_event.wait  # replaced in tests to record delays

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self._maybe_drain_spool()  # what a previous run left behind goes first
            while True:
                try:
                    items, stop = self._next_batch()
                    if items:
                        self._process(items)
                    if stop or self.stop_event.is_set():
                        return
                    self._maybe_drain_spool()
                except Exception as exc:
                    report_internal_error("worker", exc)
                    self._wait(0.1)
        finally:
            self.transport.close()

    def _next_batch(self) -> tuple[list[Item], bool]:
        items: list[Item] = []
        size = 0
        deadline = 0.0
        while True:
            if self.stop_event.is_set():
                # Stopping: send what we hold, take nothing more; the closer takes the rest.
                return items, True
            if items:
                timeout = max(0.0, deadline - time.monotonic())
            elif self._spool_dirty and time.monotonic() >= max(self._down_until, self._drain_after):
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
        try:
            item = encode(obj, self.config)
        except Exception as exc:
            report_internal_error("encode", exc)
            item = None
        if item is None:
            self.stats.add(rejected=1)
            logger.warning("shipper: a log could not be serialised or is over 1 MiB; skipped")
            self.queue.task_done()
        return item

    def _process(self, items: list[Item]) -> None:
        self.inflight = items
        try:
            if self.spool is not None and self._should_spool_directly():
                self._spool_items(items)
                return
            # After an outage, the first batch is a probe: one attempt, then back to the spool.
            retries = (
                0 if self._down_attempts and self.spool is not None else self.config.max_retries
            )
            try:
                undelivered = self.deliver(items, retries)
            except Exception as exc:  # a bug of ours: keep the logs all the same
                report_internal_error("deliver", exc)
                undelivered = items
            if undelivered and self.stop_event.is_set():
                with self.handoff_lock:
                    if not self.handed_over:
                        self.leftover.extend(undelivered)
                        undelivered = []
            if undelivered:
                self._spool_or_drop(undelivered)
        finally:
            self.inflight = []
            for _ in items:
                self.queue.task_done()

    def _should_spool_directly(self) -> bool:
        if time.monotonic() < self._down_until:
            return True
        # The network cannot keep up: spill to disk rather than let the queue fill up.
        return self.queue.qsize() >= HIGH_WATER * self.config.max_queue_size

    # -- delivery ---------------------------------------------------------------------------

    def deliver(self, items: list[Item], max_retries: int) -> list[Item]:
        """Send ``items``; return the ones not delivered (to spool or hand back).

        Delivered means the collector answered for them: created, duplicate or rejected.
        """
        attempt = 0
        while True:
            out = self.transport.post_batch([i.body for i in items])
            if out.kind == OK:
                self._mark_up()
                items = self._record(out, items)
                if not items:
                    return []
                # The collector did not answer for these: resend them like a failed batch.
            if out.kind in (TOO_LARGE, INVALID):
                self._mark_up()
                if len(items) > 1:
                    # Find the culprit(s) by halving; the rest still goes through.
                    mid = len(items) // 2
                    first = self.deliver(items[:mid], max_retries)
                    return first + self.deliver(items[mid:], max_retries)
                self.stats.add(rejected=1)
                logger.warning(
                    "shipper: collector refused log %s (HTTP %s, %s); not retrying",
                    items[0].log_id,
                    out.status,
                    out.error_code or "no code",
                )
                return []
            if out.kind == AUTH:
                self._warn_auth(out)
                holding = threading.current_thread() is self and not self.stop_event.is_set()
                if self.spool is not None or not holding:
                    self._mark_down()
                    return items
                # The worker without a spool: hold on to the logs and keep asking, slowly.
                self.stats.add(retried=1)
                if self._wait(self.config.backoff_max):
                    return items
                continue
            # RETRY: connection error, timeout, 429, 5xx, an answer that accounts for no log;
            # and the logs an OK answer left out.
            attempt += 1
            if attempt > max_retries or self.stop_event.is_set():
                self._mark_down()
                return items
            self.stats.add(retried=1)
            delay = self._backoff(attempt)
            if out.retry_after is not None:
                delay = max(delay, min(out.retry_after, self.config.retry_after_max))
            logger.info(
                "shipper: collector unavailable (%s); retry %d/%d in %.2fs",
                out.status or out.message,
                attempt,
                max_retries,
                delay,
            )
            if self._pause(delay):
                if not self.stop_event.is_set():
                    # A backlog built up while we waited: spool this batch, and the next
                    # ones until the collector's wait is over.
                    self._mark_down()
                    self._down_until = max(self._down_until, time.monotonic() + delay)
                return items

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds before a retry. True if the wait was cut short: stopping,
        or (with a spool) the queue reached its high-water mark, since sitting out a long
        Retry-After would let it overflow and drop logs the spool could have kept."""
        if self.spool is None or threading.current_thread() is not self:
            return self._wait(delay)
        deadline = time.monotonic() + delay
        while True:
            if self.queue.qsize() >= HIGH_WATER * self.config.max_queue_size:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Short slices: the queue has no "reached N items" event to wait on.
            if self._wait(min(remaining, _BACKLOG_CHECK_EVERY)):
                return True

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random (never zero, never in step
        with the other workers)."""
        cap = min(self.config.backoff_max, self.config.backoff_base * 2.0 ** (attempt - 1))
        return cap / 2 + random.uniform(0, cap / 2)

    def _record(self, out: Outcome, items: list[Item]) -> list[Item]:
        """Count what the collector answered for; return the items it did not answer for.

        Only an answer for the item's index (and, when the collector echoes it, its log_id)
        settles a log: created or duplicate count as sent, rejected as rejected.
        """
        sent = duplicates = 0
        unanswered: list[Item] = []
        for index, item in enumerate(items):
            answer = out.answers.get(index)
            if answer is None or (answer.log_id is not None and answer.log_id != item.log_id):
                unanswered.append(item)
            elif answer.status == "rejected":
                self.stats.add(rejected=1)
                logger.warning(
                    "shipper: collector rejected log %s (fields: %s)",
                    item.log_id,
                    ", ".join(answer.fields) or "unspecified",
                )
            else:
                sent += 1
                duplicates += answer.status == "duplicate"
        self.stats.add(sent=sent, duplicates=duplicates)
        return unanswered

    def _warn_auth(self, out: Outcome) -> None:
        if self._auth_warned:
            return
        self._auth_warned = True
        if out.error_code == "invalid_url":
            problem = f"LOG_COLLECTOR_URL {self.transport.urls['logs']!r} is not a usable URL"
            fix = "give the full https://… address"
        elif out.status in (404, 405):
            problem = f"the collector has no batch endpoint at {self.transport.urls['batch']}"
            fix = "check LOG_COLLECTOR_URL"
        else:
            problem = f"the collector refused the API key {self.config.key_prefix}"
            fix = "check LOG_COLLECTOR_API_KEY and CLIENT_ID"
        logger.error(
            "shipper: %s (%s, %s: %s). Logs are kept%s; %s (python -m shipper check)",
            problem,
            f"HTTP {out.status}" if out.status else "no request made",
            out.error_code or "no code",
            out.message or "no message",
            " in the spool" if self.spool is not None else " in memory",
            fix,
        )

    def _mark_up(self) -> None:
        if self._down_until or self._down_attempts:
            logger.info("shipper: collector reachable again")
            self._spool_dirty = self.spool is not None
        self._down_until = 0.0
        self._down_attempts = 0
        self._auth_warned = False

    def _mark_down(self) -> None:
        self._down_attempts += 1
        delay = self._backoff(self._down_attempts)
        self._down_until = time.monotonic() + delay

    # -- spool --------------------------------------------------------------------------------

    def _spool_items(self, items: list[Item]) -> bool:
        assert self.spool is not None
        try:
            self.spool.write([i.body for i in items])
        except OSError as exc:
            logger.error(
                "shipper: cannot write to the spool (%s); %d log(s) lost",
                type(exc).__name__,
                len(items),
            )
            self.stats.add(dropped=len(items))
            return False
        self.stats.add(spooled=len(items))
        self._spool_dirty = True
        return True

    def _spool_or_drop(self, items: list[Item]) -> None:
        if self.spool is not None:
            self._spool_items(items)
            return
        self.stats.add(dropped=len(items))
        logger.warning(
            "shipper: %d log(s) dropped: the collector is unreachable and LOG_SPOOL_DIR is unset",
            len(items),
        )

    def _maybe_drain_spool(self) -> None:
        """Send one spooled file when the collector is up (or when it is time to probe)."""
        if self.spool is None or not self._spool_dirty:
            return
        if time.monotonic() < max(self._down_until, self._drain_after):
            return
        probing = self._down_attempts > 0
        try:
            files = self.spool.files()
            if not files:
                self._spool_dirty = False
                return
            fresh = [f for f in files if f.name not in self._drain_failed]
            if not fresh:
                self._drain_failed.clear()  # every file had its turn: start over
                fresh = files
            for path in fresh:
                drained = drain_file(self, path, max_retries=0 if probing else 1)
                if drained is None:
                    continue  # another drainer is sending it: the next one, then
                if drained:
                    self._drain_failed.discard(path.name)
                else:
                    self._drain_failed.add(path.name)
                return
            # All claimed by other drainers: look again later rather than spin on them.
            self._drain_after = time.monotonic() + max(self.config.flush_interval, 0.05)
        except OSError as exc:
            # An unreadable spool directory: say so once, try again after the next write.
            self._spool_dirty = False
            logger.error("shipper: cannot read the spool (%s)", type(exc).__name__)


def drain_file(consumer: Consumer, path: Any, *, max_retries: int) -> bool | None:
    """Send the logs of one spool file; remove it once the collector has them all.

    The file is claimed first (``Spool.claim``), so no other drainer sends it at the same time.
    Logs it still could not deliver are written back as a new file; if none went through, the
    file stays as it is. Returns True if the whole file was delivered (or cannot be read, and
    is skipped from now on), False if not, None if it is not ours to send: another drainer has
    it (or had it, and it is gone).
    """
    spool = consumer.spool
    assert spool is not None
    claim = spool.claim(path)
    if claim is None:
        return None
    try:
        docs = spool.read(path)
        if docs is None:
            return True  # unreadable: skipped from now on
        items: list[Item] = []
        for doc in docs:
            item = encode(doc, consumer.config)
            if item is None:
                consumer.stats.add(rejected=1)
            else:
                items.append(item)
        undelivered: list[Item] = []
        size = consumer.config.batch_size
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            if undelivered:
                undelivered.extend(chunk)  # the collector is down: do not hammer it
                continue
            undelivered.extend(consumer.deliver(chunk, max_retries))
        if len(undelivered) == len(items) and items:
            return False  # nothing went through: leave the file as it is
        consumer.stats.add(unspooled=len(items) - len(undelivered))
        if undelivered:
            spool.write([i.body for i in undelivered])
        # A crash before this removes nothing: the lock goes with the process, and the next
        # drain sends the file again (the collector answers duplicate); no log is lost.
        claim.done()
        return not undelivered
    finally:
        claim.release()  # a no-op after done()
