"""Delivery (delivery.py): per-log answers, retries and backoff, refusals, the spool and
its drain, against a real local HTTP server.

No sleeps as assertions: tests wait for a condition with a generous deadline (``WAIT``) and
assert on what the server recorded and on ``stats()``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

import shipper
from shipper.delivery import Delivery
from shipper.encoding import encode_all
from shipper.spool import Spool
from shipper.stats import Stats

from .conftest import (
    API_KEY,
    WAIT,
    FakeCollector,
    MakeClient,
    Reply,
    fast_config,
    free_port,
    ids,
    load_sample,
    make_log,
)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_errors_are_retried_until_delivered_once(
    status: int, collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.script.extend([Reply(status), Reply(status)])
    client = make_client(collector.url, flush_interval=60)
    doc = make_log()
    client.enqueue(doc)
    assert client.flush(WAIT)
    assert len(collector.batch_requests()) == 3
    assert collector.stored[doc["log_id"]] == 1
    counts = client.snapshot()
    assert (counts["retried"], counts["sent"], counts["dropped"]) == (2, 1, 0)


def test_429_waits_at_least_retry_after(collector: FakeCollector, make_client: MakeClient) -> None:
    collector.script.append(Reply(429, {"error": {"code": "throttled"}}, {"Retry-After": "7"}))
    client = make_client(collector.url, flush_interval=60)
    client.start()
    assert client.worker is not None
    delays: list[float] = []
    client.worker.delivery.wait = lambda seconds: delays.append(seconds) or False  # type: ignore[method-assign]
    client.enqueue(make_log())
    assert client.flush(WAIT)
    assert len(delays) == 1 and delays[0] >= 7


def test_backoff_grows_exponentially_with_jitter(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.script.extend([Reply(500)] * 4)
    client = make_client(collector.url, backoff_base=1.0, backoff_max=100.0, flush_interval=60)
    client.start()
    assert client.worker is not None
    delays: list[float] = []
    client.worker.delivery.wait = lambda seconds: delays.append(seconds) or False  # type: ignore[method-assign]
    client.enqueue(make_log())
    assert client.flush(WAIT)
    assert len(delays) == 4
    for attempt, delay in enumerate(delays, start=1):
        cap = 2 ** (attempt - 1)
        assert cap / 2 <= delay <= cap


def test_a_slow_collector_times_out_and_the_retry_is_stored_once(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.delay = 0.5
    client = make_client(collector.url, read_timeout=0.1, max_retries=50, flush_interval=60)
    doc = make_log()
    client.enqueue(doc)
    client.flush(0)  # close the batch now
    assert collector.wait_for(lambda: collector.received[doc["log_id"]] >= 2)
    collector.delay = 0
    assert client.flush(WAIT)
    assert collector.stored[doc["log_id"]] == 1
    assert client.snapshot()["retried"] >= 1


def test_413_splits_the_batch_until_it_fits(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.max_docs = 2
    client = make_client(collector.url, flush_interval=60)
    docs = [make_log(i) for i in range(7)]
    for doc in docs:
        client.enqueue(doc)
    assert client.flush(WAIT)
    assert all(collector.stored[d["log_id"]] == 1 for d in docs)
    assert client.snapshot()["rejected"] == 0


@pytest.mark.parametrize("kind", ["too_large_ids", "invalid_ids"])
def test_a_document_refused_alone_is_counted_and_the_rest_delivered(
    kind: str, collector: FakeCollector, make_client: MakeClient, caplog: Any
) -> None:
    client = make_client(collector.url, flush_interval=60)
    docs = [make_log(i) for i in range(4)]
    bad = docs[2]
    bad["trace"] = {"marker": "CONTENT-MUST-NOT-BE-LOGGED"}
    getattr(collector, kind).add(bad["log_id"])
    with caplog.at_level(logging.DEBUG, logger="shipper"):
        for doc in docs:
            client.enqueue(doc)
        assert client.flush(WAIT)
    assert [collector.stored[d["log_id"]] for d in docs] == [1, 1, 0, 1]
    counts = client.snapshot()
    assert (counts["sent"], counts["rejected"], counts["retried"]) == (3, 1, 0)
    assert bad["log_id"] in caplog.text
    assert "CONTENT-MUST-NOT-BE-LOGGED" not in caplog.text


def test_per_item_rejections_are_counted_and_logged_without_content(
    collector: FakeCollector, make_client: MakeClient, caplog: Any
) -> None:
    client = make_client(collector.url, flush_interval=60)
    good, bad = make_log(1), make_log(2, ticket_id="SECRET-TICKET-CONTENT")
    collector.reject_ids.add(bad["log_id"])
    with caplog.at_level(logging.DEBUG, logger="shipper"):
        client.enqueue(good)
        client.enqueue(bad)
        assert client.flush(WAIT)
    assert len(collector.batch_requests()) == 1  # not retried
    counts = client.snapshot()
    assert (counts["sent"], counts["rejected"]) == (1, 1)
    assert f"{bad['log_id']} (fields: metrics.overall_confidence)" in caplog.text
    assert "SECRET-TICKET-CONTENT" not in caplog.text


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<html>Welcome to the proxy</html>"),
        Reply(200, {"ok": True}),
        Reply(200, {"results": "all fine"}),
        Reply(200, {"results": [None, 7]}),
        Reply(204),
    ],
    ids=["html", "no-results", "results-not-a-list", "results-garbage", "no-content"],
)
def test_an_answer_that_does_not_account_for_the_logs_does_not_mark_them_sent(
    reply: Reply, collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.script.append(reply)
    client = make_client(collector.url, flush_interval=60)
    docs = [make_log(i) for i in range(2)]
    for doc in docs:
        client.enqueue(doc)
    assert client.flush(WAIT)
    assert [collector.stored[d["log_id"]] for d in docs] == [1, 1]  # resent, stored once
    counts = client.snapshot()
    assert (counts["sent"], counts["rejected"], counts["dropped"]) == (2, 0, 0)
    assert counts["retried"] == 1


def test_logs_missing_from_the_per_item_results_are_resent_not_counted(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    docs = [make_log(i) for i in range(3)]
    # The collector answers for the first and the third log only (and once more for the first).
    collector.script.append(
        Reply(
            200,
            {
                "results": [
                    {"index": 0, "status": "created", "log_id": docs[0]["log_id"]},
                    {"index": 0, "status": "created", "log_id": docs[0]["log_id"]},
                    {"index": 2, "status": "duplicate", "log_id": docs[2]["log_id"]},
                ]
            },
        )
    )
    client = make_client(collector.url, flush_interval=60)
    for doc in docs:
        client.enqueue(doc)
    assert client.flush(WAIT)
    _, second = collector.batch_requests()
    assert ids(second["docs"]) == [docs[1]["log_id"]]
    counts = client.snapshot()
    assert (counts["sent"], counts["duplicates"], counts["rejected"]) == (3, 1, 0)


def test_a_result_naming_another_log_id_does_not_mark_the_log_sent(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    doc = make_log()
    collector.script.append(
        Reply(200, {"results": [{"index": 0, "status": "created", "log_id": make_log()["log_id"]}]})
    )
    client = make_client(collector.url, flush_interval=60)
    client.enqueue(doc)
    assert client.flush(WAIT)
    assert len(collector.batch_requests()) == 2
    assert collector.stored[doc["log_id"]] == 1
    assert client.snapshot()["sent"] == 1


def test_unanswered_logs_go_to_the_spool_past_the_retry_budget(
    collector: FakeCollector, make_client: MakeClient, tmp_path: Path
) -> None:
    collector.script.extend([Reply(200, b"<html>proxy</html>")] * 3)
    client = make_client(collector.url, spool_dir=str(tmp_path), max_retries=2, flush_interval=60)
    client.start()
    assert client.worker is not None
    client.worker.delivery._spool_dirty = False  # keep the spooled file for the assertion below
    client.worker.delivery.drain_spool = lambda: None  # type: ignore[method-assign]
    doc = make_log()
    client.enqueue(doc)
    assert client.flush(WAIT)
    counts = client.snapshot()
    assert (counts["sent"], counts["spooled"], counts["rejected"]) == (0, 1, 0)


def test_duplicates_count_as_sent(collector: FakeCollector, make_client: MakeClient) -> None:
    client = make_client(collector.url, flush_interval=60)
    doc = make_log()
    client.enqueue(doc)
    client.enqueue(dict(doc))
    assert client.flush(WAIT)
    counts = client.snapshot()
    assert (counts["sent"], counts["duplicates"]) == (2, 1)
    assert collector.stored[doc["log_id"]] == 1


def test_401_warns_once_without_the_secret_and_spools_the_logs(
    collector: FakeCollector, make_client: MakeClient, tmp_path: Path, caplog: Any
) -> None:
    collector.api_key = "flk_ffffffffffff_other"
    client = make_client(collector.url, spool_dir=str(tmp_path), flush_interval=60)
    with caplog.at_level(logging.INFO, logger="shipper"):
        for batch in range(3):
            client.enqueue(make_log(batch))
            assert client.flush(WAIT)
    spooled = [
        doc for f in Spool(tmp_path, 10**9).files() for doc in Spool(tmp_path, 10**9).read(f) or []
    ]
    assert len(spooled) == 3
    counts = client.snapshot()
    assert (counts["spooled"], counts["dropped"], counts["sent"]) == (3, 0, 0)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "flk_0123456789ab" in errors[0].getMessage()
    assert "s3cr3tPartOfTheKey" not in caplog.text


def test_401_without_a_spool_keeps_the_logs_until_the_key_works(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.api_key = "flk_ffffffffffff_other"
    client = make_client(collector.url, flush_interval=60)
    doc = make_log()
    client.enqueue(doc)
    client.flush(0)
    assert collector.wait_for(lambda: len(collector.batch_requests()) >= 3)
    collector.api_key = API_KEY  # the operator fixes the key on the collector side
    assert client.flush(WAIT)
    assert collector.stored[doc["log_id"]] == 1
    assert client.snapshot()["dropped"] == 0


def test_a_wrong_url_keeps_the_logs_and_says_to_check_the_url(
    collector: FakeCollector, make_client: MakeClient, tmp_path: Path, caplog: Any
) -> None:
    client = make_client(collector.base + "/wrong/api/v1/logs", spool_dir=str(tmp_path))
    with caplog.at_level(logging.ERROR, logger="shipper"):
        client.enqueue(make_log())
        assert client.flush(WAIT)
    assert (client.snapshot()["spooled"], client.snapshot()["rejected"]) == (1, 0)
    assert "no batch endpoint at" in caplog.text and "check LOG_COLLECTOR_URL" in caplog.text


def test_unreachable_collector_spools_after_the_retry_budget(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = make_client(
        f"http://127.0.0.1:{free_port()}/api/v1/logs", spool_dir=str(tmp_path), max_retries=2
    )
    for i in range(5):
        client.enqueue(make_log(i))
    assert client.flush(WAIT)
    counts = client.snapshot()
    assert (counts["spooled"], counts["sent"], counts["dropped"]) == (5, 0, 0)
    spool = Spool(tmp_path, 10**9)
    assert sum(len(spool.read(f) or []) for f in spool.files()) == 5


def test_unreachable_collector_without_a_spool_drops_and_counts(make_client: MakeClient) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}/api/v1/logs", max_retries=1)
    client.enqueue(make_log())
    assert client.flush(WAIT)
    assert client.snapshot()["dropped"] == 1


def test_spooled_logs_are_sent_once_the_collector_is_back(
    make_client: MakeClient, tmp_path: Path
) -> None:
    port = free_port()
    client = make_client(
        f"http://127.0.0.1:{port}/api/v1/logs", spool_dir=str(tmp_path), max_retries=1
    )
    docs = [make_log(i) for i in range(6)]
    for doc in docs:
        client.enqueue(doc)
    assert client.flush(WAIT)
    assert client.snapshot()["spooled"] == 6
    collector = FakeCollector(port)  # the collector comes back on the same address
    try:
        assert collector.wait_for(lambda: all(collector.stored[d["log_id"]] for d in docs))
        assert collector.wait_for(lambda: not Spool(tmp_path, 10**9).files())
        assert all(collector.stored[d["log_id"]] == 1 for d in docs)
        assert client.snapshot()["unspooled"] == 6
    finally:
        collector.stop()


def test_a_new_process_drains_the_spool_left_by_the_previous_one(
    collector: FakeCollector, tmp_path: Path
) -> None:
    docs = [make_log(i) for i in range(3)]
    Spool(tmp_path, 10**9).write([json.dumps(d).encode() for d in docs])
    shipper.configure(
        collector_url=collector.url,
        api_key=API_KEY,
        client_id="acme",
        spool_dir=str(tmp_path),
    )
    assert collector.wait_for(lambda: all(collector.stored[d["log_id"]] == 1 for d in docs))
    assert collector.wait_for(lambda: not Spool(tmp_path, 10**9).files())


def test_an_unreadable_spool_file_does_not_stop_the_rest_from_draining(
    collector: FakeCollector, make_client: MakeClient, tmp_path: Path
) -> None:
    # The oldest entry cannot be read (a directory here; a file of another user in real life).
    (tmp_path / "00000000000000000001-1-abcd.json").mkdir()
    docs = [make_log(i) for i in range(2)]
    spool = Spool(tmp_path, 10**9)
    for doc in docs:
        spool.write([json.dumps(doc).encode()])
    client = make_client(collector.url, spool_dir=str(tmp_path))
    client.start()
    assert collector.wait_for(lambda: all(collector.stored[d["log_id"]] == 1 for d in docs))


def test_a_spool_file_the_collector_keeps_failing_on_does_not_block_the_others(
    collector: FakeCollector, make_client: MakeClient, tmp_path: Path
) -> None:
    poison, others = make_log(0), [make_log(i) for i in range(1, 3)]
    collector.crash_ids.add(poison["log_id"])
    spool = Spool(tmp_path, 10**9)
    for doc in [poison, *others]:  # the poison file is the oldest
        spool.write([json.dumps(doc).encode()])
    client = make_client(collector.url, spool_dir=str(tmp_path), max_retries=1)
    client.start()
    assert collector.wait_for(lambda: all(collector.stored[d["log_id"]] == 1 for d in others))
    assert collector.wait_for(lambda: len(Spool(tmp_path, 10**9).files()) == 1)


def test_spool_holds_built_logs_only_never_raw_pii(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(
        f"http://127.0.0.1:{free_port()}/api/v1/logs", spool_dir=str(tmp_path), max_retries=0
    )
    state = load_sample("state_success.json")
    client.enqueue(shipper.build_workflow_log(state, 0, 1))
    assert client.flush(WAIT)
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "48213" in text
    assert "jane.doe@example.com" not in text and "sk-proj" not in text


def test_a_long_retry_after_does_not_park_the_worker_while_the_queue_fills(
    collector: FakeCollector,
    make_client: MakeClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a spool, a worker told to come back in 10 minutes must not sit on the queue
    until it overflows and drops logs: the backlog goes to disk."""
    collector.script.append(Reply(429, {"error": {"code": "throttled"}}, {"Retry-After": "600"}))
    client = make_client(
        collector.url, spool_dir=str(tmp_path), max_queue_size=10, batch_size=1, flush_interval=60
    )
    first = make_log(0)
    client.enqueue(first)
    assert collector.wait_for(lambda: len(collector.batch_requests()) == 1)  # the 429
    for i in range(1, 9):  # the queue reaches its high-water mark (8 of 10)
        assert client.enqueue(make_log(i))
    assert collector.wait_for(lambda: client.snapshot()["spooled"] >= 1)
    assert collector.wait_for(lambda: client.snapshot()["pending"] == 0)
    for i in range(9, 19):  # and a queue-full of logs more still finds room
        assert client.enqueue(make_log(i))
    assert collector.wait_for(lambda: client.snapshot()["pending"] == 0)
    assert client.flush(WAIT)
    counts = client.snapshot()
    assert counts["dropped"] == 0
    assert counts["spooled"] == 19


@pytest.mark.parametrize("url", ["flusso.example.com/api/v1/logs", "htp://flusso.example.com"])
def test_a_collector_url_that_is_not_a_url_is_reported_as_such_once_and_logs_are_kept(
    url: str, make_client: MakeClient, tmp_path: Path, caplog: Any
) -> None:
    client = make_client(url, spool_dir=str(tmp_path))
    with caplog.at_level(logging.INFO, logger="shipper"):
        for i in range(2):
            client.enqueue(make_log(i))
            assert client.flush(WAIT)
    counts = client.snapshot()
    assert (counts["spooled"], counts["dropped"], counts["retried"]) == (2, 0, 0)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "LOG_COLLECTOR_URL" in errors[0] and "not a usable URL" in errors[0]


def test_a_delivery_that_does_not_hold_refused_logs_gives_them_back_at_once(
    collector: FakeCollector,
) -> None:
    """What ``python -m shipper send`` drives: no thread, no spool, and a refused key is
    answered at once, with the logs, instead of waiting for the key to work."""
    collector.api_key = "flk_000000000000_another"
    stats = Stats()
    delivery = Delivery(config=fast_config(collector.url), stats=stats, spool=None)
    waits: list[float] = []
    delivery.wait = lambda seconds: waits.append(seconds) or False  # type: ignore[method-assign]
    items = encode_all([make_log()], delivery.config, stats)
    try:
        assert delivery.deliver(items, max_retries=3) == items
    finally:
        delivery.close()
    assert waits == []
    assert len(collector.batch_requests()) == 1
