"""The background worker (worker.py): batches from the queue, a bug kept from losing logs,
the spill to the spool, and ``stop`` handing back what it holds.

No sleeps as assertions: tests wait for a condition with a generous deadline (``WAIT``) and
assert on what the server recorded and on ``stats()``.
"""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path
from typing import Any

import pytest

from shipper.spool import Spool
from shipper.stats import Stats
from shipper.worker import Worker

from .conftest import WAIT, FakeCollector, MakeClient, fast_config, free_port, make_log


def test_a_batch_closes_at_batch_size(collector: FakeCollector, make_client: MakeClient) -> None:
    client = make_client(collector.url, batch_size=2, flush_interval=60)
    for i in range(5):
        client.enqueue(make_log(i))
    assert client.flush(WAIT)
    assert [len(r["docs"]) for r in collector.batch_requests()] == [2, 2, 1]


def test_a_batch_closes_at_its_age_limit_without_flush(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    client = make_client(collector.url, batch_size=100, flush_interval=0.05)
    doc = make_log()
    client.enqueue(doc)
    assert collector.wait_for(lambda: collector.stored[doc["log_id"]] == 1)


def test_a_bug_in_delivery_keeps_the_logs_and_the_worker_alive(
    collector: FakeCollector,
    make_client: MakeClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shipper.delivery import Delivery

    real = Delivery.deliver
    calls = []

    def buggy_once(self: Delivery, items: Any, max_retries: int) -> Any:
        calls.append(len(items))
        if len(calls) == 1:
            raise KeyError("library bug")
        return real(self, items, max_retries)

    monkeypatch.setattr(Delivery, "deliver", buggy_once)
    client = make_client(collector.url, spool_dir=str(tmp_path), flush_interval=60)
    first, second = make_log(1), make_log(2)
    client.enqueue(first)
    assert client.flush(WAIT)
    assert client.snapshot()["spooled"] == 1  # kept, not lost
    client.enqueue(second)
    assert client.flush(WAIT)
    assert collector.stored[second["log_id"]] == 1  # the same worker carries on
    assert collector.wait_for(lambda: collector.stored[first["log_id"]] == 1)  # spool drained


def test_a_queue_backing_up_spills_to_the_spool_instead_of_filling(
    collector: FakeCollector,
    make_client: MakeClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client(
        collector.url, spool_dir=str(tmp_path), max_queue_size=10, batch_size=1, flush_interval=60
    )
    monkeypatch.setattr(client, "start", lambda: None)
    docs = [make_log(i) for i in range(9)]
    for doc in docs:
        assert client.enqueue(doc)
    monkeypatch.undo()
    client.start()
    # The worker's first batch leaves 8 of 10 queued (the 80% mark): that one goes to disk,
    # the others are sent, then the spooled one follows from the spool.
    assert collector.wait_for(lambda: all(collector.stored[d["log_id"]] == 1 for d in docs))
    assert collector.wait_for(
        lambda: (client.snapshot()["sent"], client.snapshot()["unspooled"]) == (9, 1)
    )
    counts = client.snapshot()
    assert (counts["spooled"], counts["dropped"]) == (1, 0)


def test_logs_the_worker_still_holds_when_shutdown_gives_up_on_it_are_spooled_not_lost(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """shutdown() waits briefly for the worker, then spools what it can see; the batch the
    worker was still putting together at that moment must not be left in memory."""
    import threading

    from shipper.worker import Worker

    entered, release = threading.Event(), threading.Event()
    docs = [make_log(i) for i in range(3)]
    real = Worker._encode

    def slow_on_second(self: Worker, obj: Any) -> Any:
        if obj is docs[1]:  # say a huge log being trimmed: the worker is busy with it
            entered.set()
            release.wait(WAIT)
        return real(self, obj)

    monkeypatch.setattr(Worker, "_encode", slow_on_second)
    client = make_client(
        f"http://127.0.0.1:{free_port()}/api/v1/logs",
        spool_dir=str(tmp_path),
        batch_size=2,
        flush_interval=60,
    )
    for doc in docs:
        client.enqueue(doc)
    assert entered.wait(WAIT)
    worker = client.worker
    assert worker is not None
    client.close(0)  # gives up on the busy worker, spools the rest of the queue
    release.set()
    worker.join(WAIT)
    assert not worker.is_alive()
    spool = Spool(tmp_path, 10**9)
    spooled = {d["log_id"] for f in spool.files() for d in spool.read(f) or []}
    assert spooled == {d["log_id"] for d in docs}


def test_a_spool_drains_back_to_back_not_one_file_per_idle_interval(
    collector: FakeCollector, make_client: MakeClient, tmp_path: Path
) -> None:
    """After an outage the spool may hold thousands of files: an idle worker must not pause
    a whole batch interval between two of them."""
    spool = Spool(tmp_path, 10**9)
    docs = [make_log(i) for i in range(6)]
    for doc in docs:
        spool.write([json.dumps(doc).encode()])
    client = make_client(collector.url, spool_dir=str(tmp_path), flush_interval=600)
    client.start()
    assert collector.wait_for(lambda: all(collector.stored[d["log_id"]] == 1 for d in docs))


def test_stop_on_a_worker_that_never_started_hands_back_nothing() -> None:
    config = fast_config(f"http://127.0.0.1:{free_port()}/api/v1/logs")
    worker = Worker(config=config, q=queue.Queue(), stats=Stats(), spool=None)
    assert worker.stop(0) == []
    assert not worker.is_alive()


def test_stop_hands_back_the_batch_a_stopping_worker_could_not_deliver() -> None:
    """Stopping cuts the retry wait short, and the batch comes back to the caller (to hand
    over or spool) instead of being dropped for want of a spool."""
    q: queue.Queue[Any] = queue.Queue()
    stats = Stats()
    url = f"http://127.0.0.1:{free_port()}/api/v1/logs"
    config = fast_config(url, backoff_base=60.0, backoff_max=60.0)
    worker = Worker(config=config, q=q, stats=stats, spool=None)
    waiting = threading.Event()
    real_wait = worker.delivery.wait

    def wait(seconds: float) -> bool:
        waiting.set()
        return real_wait(seconds)

    worker.delivery.wait = wait  # type: ignore[method-assign]
    doc = make_log()
    q.put(doc)
    worker.start()
    assert waiting.wait(WAIT)  # the first attempt failed: it waits to retry
    unsent = worker.stop(WAIT)
    assert [item.log_id for item in unsent] == [doc["log_id"]]
    assert not worker.is_alive()
    assert stats.snapshot()["dropped"] == 0
