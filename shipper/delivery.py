"""Delivery: send a batch, read the per-log answers, back off, spool what cannot be sent.

A plain object, no thread of its own: the background worker (``worker.py``) drives one from
its thread, and ``python -m shipper send`` (``cli.py``) drives one from the command line.
What differs between the two is given to the constructor: the worker's stop event (which
cuts every wait short), a test of whether its queue is backing up, and whether a refused key
is waited out (the worker without a spool) or reported at once (the command line).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .config import Config
from .encoding import Item, encode_all
from .spool import Spool
from .stats import Stats
from .transport import AUTH, INVALID, OK, TOO_LARGE, Outcome, Transport

logger = logging.getLogger("shipper")

# How often a delivery waiting to retry looks at the worker's queue (seconds): a full queue
# of 10,000 logs at a few hundred logs per second takes far longer than this to fill.
_BACKLOG_CHECK_EVERY = 0.1


def spool_or_drop(items: list[Item], spool: Spool | None, stats: Stats) -> bool:
    """Write logs that were not delivered to the spool (True); without a spool, or when it
    cannot be written, they are lost, and counted as dropped."""
    if spool is None:
        logger.warning("shipper: %d unsent log(s) dropped: LOG_SPOOL_DIR is unset", len(items))
    else:
        try:
            spool.write([i.body for i in items])
        except OSError as exc:
            logger.error(
                "shipper: cannot write to the spool (%s); %d log(s) lost",
                type(exc).__name__,
                len(items),
            )
        else:
            stats.add(spooled=len(items))
            return True
    stats.add(dropped=len(items))
    return False


class Delivery:
    def __init__(
        self,
        *,
        config: Config,
        stats: Stats,
        spool: Spool | None,
        stop: threading.Event | None = None,
        backlogged: Callable[[], bool] | None = None,
        hold_refused: bool = False,
    ) -> None:
        self.config = config
        self.stats = stats
        self.spool = spool
        self.transport = Transport(config)
        # Set when the caller is stopping: no more retries, every wait ends at once.
        self.stop = stop or threading.Event()
        # True when the caller's queue is backing up (then spooling beats waiting); None
        # when there is no queue to watch.
        self.backlogged = backlogged
        # Without a spool, keep asking (slowly) while the key is refused, rather than give
        # the logs back: what the worker does, which has nowhere else to keep them.
        self.hold_refused = hold_refused
        self.wait = self.stop.wait  # replaced in tests to record delays
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

    def close(self) -> None:
        self.transport.close()

    # -- a batch from the queue -------------------------------------------------------------

    def send(self, items: list[Item]) -> list[Item]:
        """Send a batch taken off the worker's queue; return what is still undelivered, for
        the caller to spool (``spool_or_drop``) or hand back.

        While the collector is down, or the queue is backing up, the batch goes straight to
        the spool; after an outage the first batch is a probe: one attempt, then the spool.
        """
        if self.spool is not None and self._should_spool_directly():
            self.spool_or_drop(items)
            return []
        retries = 0 if self._down_attempts and self.spool is not None else self.config.max_retries
        return self.deliver(items, retries)

    def _should_spool_directly(self) -> bool:
        if time.monotonic() < self._down_until:
            return True
        # The network cannot keep up: spill to disk rather than let the queue fill up.
        return self.backlogged is not None and self.backlogged()

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
                holding = self.hold_refused and not self.stop.is_set()
                if self.spool is not None or not holding:
                    self._mark_down()
                    return items
                # The worker without a spool: hold on to the logs and keep asking, slowly.
                self.stats.add(retried=1)
                if self.wait(self.config.backoff_max):
                    return items
                continue
            # RETRY: connection error, timeout, 429, 5xx, an answer that accounts for no log;
            # and the logs an OK answer left out.
            attempt += 1
            if attempt > max_retries or self.stop.is_set():
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
                if not self.stop.is_set():
                    # A backlog built up while we waited: spool this batch, and the next
                    # ones until the collector's wait is over.
                    self._mark_down()
                    self._down_until = max(self._down_until, time.monotonic() + delay)
                return items

    def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds before a retry. True if the wait was cut short: stopping,
        or (with a spool) the queue reached its high-water mark, since sitting out a long
        Retry-After would let it overflow and drop logs the spool could have kept."""
        if self.spool is None or self.backlogged is None:
            return self.wait(delay)
        deadline = time.monotonic() + delay
        while True:
            if self.backlogged():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Short slices: the queue has no "reached N items" event to wait on.
            if self.wait(min(remaining, _BACKLOG_CHECK_EVERY)):
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

    # -- the spool ----------------------------------------------------------------------------

    def spool_or_drop(self, items: list[Item]) -> None:
        """Keep undelivered logs in the spool; without one they are lost, and counted."""
        if spool_or_drop(items, self.spool, self.stats):
            self._spool_dirty = True

    def drain_due(self) -> bool:
        """Whether the spool holds logs to send and it is time to send them."""
        return self._spool_dirty and time.monotonic() >= max(self._down_until, self._drain_after)

    def drain_spool(self) -> None:
        """Send one spooled file when the collector is up (or when it is time to probe)."""
        if self.spool is None or not self.drain_due():
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
                drained = self.drain_file(path, max_retries=0 if probing else 1)
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

    def drain_file(self, path: Path, *, max_retries: int) -> bool | None:
        """Send the logs of one spool file; remove it once the collector has them all.

        The file is claimed first (``Spool.claim``), so no other drainer sends it at the same
        time. Logs it still could not deliver are written back as a new file; if none went
        through, the file stays as it is. Returns True if the whole file was delivered (or
        cannot be read, and is skipped from now on), False if not, None if it is not ours to
        send: another drainer has it (or had it, and it is gone).
        """
        spool = self.spool
        assert spool is not None
        claim = spool.claim(path)
        if claim is None:
            return None
        try:
            docs = spool.read(path)
            if docs is None:
                return True  # unreadable: skipped from now on
            items = encode_all(docs, self.config, self.stats)
            undelivered: list[Item] = []
            size = self.config.batch_size
            for start in range(0, len(items), size):
                chunk = items[start : start + size]
                if undelivered:
                    undelivered.extend(chunk)  # the collector is down: do not hammer it
                    continue
                undelivered.extend(self.deliver(chunk, max_retries))
            if len(undelivered) == len(items) and items:
                return False  # nothing went through: leave the file as it is
            self.stats.add(unspooled=len(items) - len(undelivered))
            if undelivered:
                spool.write([i.body for i in undelivered])
            # A crash before this removes nothing: the lock goes with the process, and the
            # next drain sends the file again (the collector answers duplicate); no log is
            # lost.
            claim.done()
            return not undelivered
        finally:
            claim.release()  # a no-op after done()
