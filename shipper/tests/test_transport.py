"""The client, worker and HTTP transport against a real local HTTP server.

No sleeps as assertions: tests wait for a condition with a generous deadline (``WAIT``) and
assert on what the server recorded and on ``stats()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import shipper
from shipper.client import Client
from shipper.encoding import dumps
from shipper.spool import Spool
from shipper.transport import parse_retry_after

from .conftest import API_KEY, WAIT, FakeCollector, Reply, free_port, load_sample, make_log

MakeClient = Callable[..., Client]


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["log_id"] for d in docs]


# -- happy path -------------------------------------------------------------------------------


def test_logs_are_posted_in_one_batch_with_the_bearer_key(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    client = make_client(collector.url, flush_interval=60)  # only flush() closes the batch
    docs = [make_log(i) for i in range(3)]
    for doc in docs:
        assert client.enqueue(doc)
    assert client.flush(WAIT)
    [request] = collector.batch_requests()
    assert request["method"] == "POST"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert ids(request["docs"]) == ids(docs)
    assert client.snapshot()["sent"] == 3


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


def test_big_bodies_are_gzipped_small_ones_are_not(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    client = make_client(collector.url, flush_interval=60)
    client.enqueue(make_log(0))
    client.flush(WAIT)
    client.enqueue(make_log(1, trace={"text": "x" * 5000}))
    client.flush(WAIT)
    small, big = collector.batch_requests()
    assert "Content-Encoding" not in small["headers"]
    assert big["headers"]["Content-Encoding"] == "gzip"
    assert big["raw_size"] < 5000  # compressed on the wire
    assert big["docs"][0]["trace"]["text"] == "x" * 5000


def test_batches_reuse_one_keep_alive_connection(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    client = make_client(collector.url, flush_interval=60)
    for i in range(3):
        client.enqueue(make_log(i))
        assert client.flush(WAIT)
    assert len(collector.batch_requests()) == 3
    assert len(collector.connections) == 1


def test_a_log_without_log_id_gets_one_that_retries_keep(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.script.append(Reply(503))
    client = make_client(collector.url, flush_interval=60)
    doc = make_log()
    del doc["log_id"]
    client.enqueue(doc)
    assert client.flush(WAIT)
    first, second = collector.batch_requests()
    assert first["docs"][0]["log_id"] == second["docs"][0]["log_id"]
    assert "log_id" not in doc  # the caller's dict is not touched


# -- retries ----------------------------------------------------------------------------------


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


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


# -- refusals ---------------------------------------------------------------------------------


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


def test_a_collector_refusing_gzip_gets_plain_json_from_then_on(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    collector.script.append(Reply(415, {"error": {"code": "unsupported_media_type"}}))
    client = make_client(collector.url, flush_interval=60)
    big = [make_log(i, trace={"pad": "x" * 2000}) for i in range(2)]
    for doc in big:
        client.enqueue(doc)
        assert client.flush(WAIT)
    encodings = [r["headers"].get("Content-Encoding") for r in collector.batch_requests()]
    assert encodings == ["gzip", None, None]
    assert all(collector.stored[d["log_id"]] == 1 for d in big)
    assert client.snapshot()["rejected"] == 0


# -- down collector, spool --------------------------------------------------------------------


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


def test_shutdown_spools_what_is_queued_or_waiting_for_a_retry(tmp_path: Path) -> None:
    shipper.configure(
        collector_url=f"http://127.0.0.1:{free_port()}/api/v1/logs",
        api_key=API_KEY,
        client_id="acme",
        spool_dir=str(tmp_path),
        backoff_base=600.0,  # the worker sits in a long backoff when shutdown comes
        backoff_max=600.0,
    )
    for i in range(4):
        shipper.ship_log_async(make_log(i))
    assert shipper.shutdown(timeout=0.2) is False
    spool = Spool(tmp_path, 10**9)
    assert sum(len(spool.read(f) or []) for f in spool.files()) == 4


def test_interpreter_exit_spools_unsent_logs(tmp_path: Path) -> None:
    code = f"""
import shipper
shipper.configure(collector_url="http://127.0.0.1:{free_port()}/api/v1/logs",
                  api_key="k", client_id="acme", spool_dir={str(tmp_path)!r},
                  backoff_base=600, backoff_max=600, exit_timeout=0.2)
for i in range(3):
    shipper.ship_log_async({{"log_id": f"00000000-0000-4000-8000-00000000000{{i}}",
                            "ticket_id": "1", "status": "SUCCESS"}})
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "CLIENT_ID"))}
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True, timeout=60)
    spool = Spool(tmp_path, 10**9)
    logs = [d for f in spool.files() for d in spool.read(f) or []]
    assert sorted(d["log_id"][-1] for d in logs) == ["0", "1", "2"]


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


# -- the public API ---------------------------------------------------------------------------


def test_unconfigured_ship_log_async_is_a_silent_noop_after_one_info_line(caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger="shipper"):
        for _ in range(3):
            assert shipper.ship_log_async(make_log()) is None
    assert [r.getMessage() for r in caplog.records] == [
        "shipper: centralized logging is off (LOG_COLLECTOR_URL is not set); logs are not shipped"
    ]
    assert shipper.stats()["queued"] == 0
    assert shipper.flush(1) is True


def test_disabled_by_env_even_with_a_url(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setenv("LOG_COLLECTOR_URL", "http://127.0.0.1:9/api/v1/logs")
    monkeypatch.setenv("ENABLE_CENTRALIZED_LOGGING", "false")
    with caplog.at_level(logging.INFO, logger="shipper"):
        shipper.ship_log_async(make_log())
    assert "disabled" in caplog.text
    assert shipper.stats()["queued"] == 0


def test_env_configuration_ships_through_the_public_api(
    collector: FakeCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_COLLECTOR_URL", collector.url + "/")
    monkeypatch.setenv("LOG_COLLECTOR_API_KEY", API_KEY)
    monkeypatch.setenv("CLIENT_ID", "acme")
    doc = make_log()
    shipper.ship_log_async(doc)
    assert shipper.flush(WAIT)
    assert collector.stored[doc["log_id"]] == 1
    assert shipper.stats()["sent"] == 1


def test_ship_log_async_never_raises_even_on_an_internal_bug(
    monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    shipper.configure(collector_url="http://127.0.0.1:9/api/v1/logs", client_id="acme")

    def broken(self: Client, payload: Any) -> bool:
        raise RuntimeError("library bug")

    monkeypatch.setattr(Client, "enqueue", broken)
    with caplog.at_level(logging.WARNING, logger="shipper"):
        shipper.ship_log_async(make_log())
    assert "internal error in ship_log_async (RuntimeError)" in caplog.text


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


def test_non_json_payloads_are_made_safe_by_the_worker(
    collector: FakeCollector, make_client: MakeClient
) -> None:
    import datetime as dt

    client = make_client(collector.url, flush_interval=60)
    doc = make_log(trace={"when": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "x": {1, 2}})
    client.enqueue(doc)
    client.enqueue("not a log")
    assert client.flush(WAIT)
    assert collector.docs[doc["log_id"]]["trace"] == {
        "when": "2026-01-01T00:00:00+00:00",
        "x": [1, 2],
    }
    assert client.snapshot()["rejected"] == 1


def test_a_full_queue_drops_and_counts_instead_of_blocking(
    monkeypatch: pytest.MonkeyPatch, make_client: MakeClient
) -> None:
    client = make_client("http://127.0.0.1:9/api/v1/logs", max_queue_size=2)
    monkeypatch.setattr(client, "start", lambda: None)  # no worker: nothing leaves the queue
    accepted = [client.enqueue(make_log(i)) for i in range(5)]
    assert accepted == [True, True, False, False, False]
    counts = client.snapshot()
    assert (counts["queued"], counts["dropped"], counts["pending"]) == (2, 3, 2)


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


def test_stats_has_every_counter() -> None:
    assert set(shipper.stats()) == {
        "queued",
        "sent",
        "duplicates",
        "retried",
        "rejected",
        "spooled",
        "unspooled",
        "dropped",
        "pending",
    }


def test_configure_moves_queued_logs_to_the_new_collector(
    collector: FakeCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipper.configure(collector_url="http://127.0.0.1:9/api/v1/logs", client_id="acme")
    monkeypatch.setattr(Client, "start", lambda self: None)
    doc = make_log()
    shipper.ship_log_async(doc)
    monkeypatch.undo()
    shipper.configure(collector_url=collector.url, api_key=API_KEY, client_id="acme")
    assert shipper.flush(WAIT)
    assert collector.stored[doc["log_id"]] == 1


def test_configure_rejects_unknown_settings() -> None:
    with pytest.raises(TypeError, match="batch_sise"):
        shipper.configure(batch_sise=10)


def test_ship_log_async_works_inside_a_running_event_loop(collector: FakeCollector) -> None:
    shipper.configure(collector_url=collector.url, api_key=API_KEY, client_id="acme")
    doc = make_log()

    async def workflow_end() -> bool:
        shipper.ship_log_async(doc)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, shipper.flush, WAIT)

    assert asyncio.run(workflow_end())
    assert collector.stored[doc["log_id"]] == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_its_own_queue_and_worker(collector: FakeCollector) -> None:
    shipper.configure(
        collector_url=collector.url, api_key=API_KEY, client_id="acme", flush_interval=60
    )
    parent_doc, child_doc = make_log(1), make_log(2)
    shipper.ship_log_async(parent_doc)
    assert shipper.flush(WAIT)
    pid = os.fork()
    if pid == 0:  # the child: ship through a worker that must be its own
        status = 1
        try:
            shipper.ship_log_async(child_doc)
            ok = shipper.flush(WAIT)
            counts = shipper.stats()
            status = 0 if ok and counts["queued"] == 1 and counts["sent"] == 1 else 1
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    assert collector.stored[child_doc["log_id"]] == 1
    assert collector.stored[parent_doc["log_id"]] == 1
    assert shipper.stats()["sent"] == 1  # the parent's counters are its own


def test_without_log_pii_salt_hashes_are_keyed_and_a_shipping_process_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    import hashlib

    from shipper import config as config_module

    monkeypatch.delenv("LOG_PII_SALT")
    monkeypatch.setattr(config_module, "_warned_salt", False)
    shipper.configure(collector_url="http://127.0.0.1:9/api/v1/logs", client_id="acme")
    monkeypatch.setattr(Client, "start", lambda self: None)  # no network in this test
    with caplog.at_level(logging.INFO, logger="shipper"):
        for _ in range(2):
            doc = shipper.build_workflow_log(load_sample("state_success.json"), 0, 1)
            shipper.ship_log_async(doc)
    hashed = doc["trace"]["ticket"]["requester_email"]
    assert hashed != "sha256:" + hashlib.sha256(b"jane.doe@example.com").hexdigest()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "LOG_PII_SALT is not set" in warnings[0]


def test_the_noop_path_logs_one_info_line_even_without_a_salt(
    monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from shipper import config as config_module

    monkeypatch.delenv("LOG_PII_SALT")
    monkeypatch.setattr(config_module, "_warned_salt", False)
    with caplog.at_level(logging.DEBUG, logger="shipper"):
        for _ in range(2):
            shipper.ship_log_async(
                shipper.build_workflow_log(load_sample("state_success.json"), 0, 1)
            )
    assert [r.levelno for r in caplog.records] == [logging.INFO]


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


def test_a_log_shipped_after_exit_cleanup_is_spooled_not_left_in_a_dead_queue(
    tmp_path: Path,
) -> None:
    """An atexit handler or a daemon thread may ship after the shipper's own exit flush ran."""
    from shipper import client as client_module

    shipper.configure(
        collector_url=f"http://127.0.0.1:{free_port()}/api/v1/logs",
        api_key=API_KEY,
        client_id="acme",
        spool_dir=str(tmp_path),
    )
    shipper.ship_log_async(make_log(0))
    client_module._at_exit()
    late = make_log(1)
    shipper.ship_log_async(late)
    spool = Spool(tmp_path, 10**9)
    spooled = {d["log_id"] for f in spool.files() for d in spool.read(f) or []}
    assert late["log_id"] in spooled
    assert shipper.stats()["pending"] == 0


@pytest.mark.parametrize("spooling", [True, False], ids=["spool", "no spool"])
def test_a_log_that_cannot_be_encoded_when_closing_is_counted_as_rejected(
    make_client: MakeClient, tmp_path: Path, spooling: bool
) -> None:
    """Every log queued is accounted for: one that cannot be serialised at close (after it,
    a late one is disposed of at once) counts as rejected, as it does on the worker."""
    client = make_client(
        f"http://127.0.0.1:{free_port()}/api/v1/logs",
        spool_dir=str(tmp_path) if spooling else None,
    )
    client.close(0)
    client.enqueue("not a log")
    client.enqueue(make_log())
    counts = client.snapshot()
    kept = "spooled" if spooling else "dropped"
    assert (counts["queued"], counts["rejected"], counts[kept]) == (2, 1, 1)


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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_logs_queued_in_the_parent_at_fork_time_are_sent_by_the_parent_only(
    collector: FakeCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipper.configure(
        collector_url=collector.url, api_key=API_KEY, client_id="acme", flush_interval=60
    )
    monkeypatch.setattr(Client, "start", lambda self: None)  # the parent's log waits queued
    pending, child_doc = make_log(1), make_log(2)
    shipper.ship_log_async(pending)
    monkeypatch.undo()
    pid = os.fork()
    if pid == 0:  # the child: its own log only, then a full flush and exit
        status = 1
        try:
            shipper.ship_log_async(child_doc)
            ok = shipper.flush(WAIT)
            status = 0 if ok and shipper.stats()["queued"] == 1 else 1
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    assert shipper.flush(WAIT)
    assert collector.received[child_doc["log_id"]] == 1
    assert collector.received[pending["log_id"]] == 1  # not a second copy from the child


def test_an_internal_error_is_logged_without_its_message_even_at_debug(
    monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """An exception's message can quote the log (a KeyError on a PII key, a repr of a
    value): the shipper logs where it happened and its type, never the message."""
    shipper.configure(collector_url="http://127.0.0.1:9/api/v1/logs", client_id="acme")

    def broken(self: Client, payload: Any) -> bool:
        raise KeyError(payload["trace"]["who"])  # a message made of the log's content

    monkeypatch.setattr(Client, "enqueue", broken)
    with caplog.at_level(logging.DEBUG, logger="shipper"):
        shipper.ship_log_async(make_log(trace={"who": "jane.doe@example.com"}))
    assert "internal error in ship_log_async (KeyError)" in caplog.text
    assert "jane.doe" not in caplog.text
    assert "broken" in caplog.text  # the traceback's frames are still there to debug with


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


def test_dumps_replaces_nul_and_lone_surrogates_the_collector_would_refuse() -> None:
    """PostgreSQL stores neither; the collector refuses them with a 400, so the shipper
    replaces them (keys too) rather than lose the log. A surrogate pair, an escaped
    backslash before "u0000" and other text are kept as they are."""
    doc = {"a\x00": "x\ud800y", "b": ["\x00", "\U0001f600"], "c": "lit \\u0000"}
    assert json.loads(dumps(doc)) == {
        "a\ufffd": "x\ufffdy",
        "b": ["\ufffd", "\U0001f600"],
        "c": "lit \\u0000",
    }


def test_dumps_keeps_keys_the_replacement_makes_alike_apart() -> None:
    """``"a\\x00"`` and ``"a\\ud800"`` both become ``"a\\ufffd"``: one value was silently lost.
    Now they are numbered like keys the collector's scrubber masks alike; a key that needed no
    replacement (here a literal ``"a\\ufffd"`` and ``"a\\ufffd (2)"``) keeps its name."""
    # Pairs, not a literal: a linter that cannot hold lone surrogates sees repeated keys.
    doc = dict(
        [
            ("a\x00", 1),
            ("a\ud800", 2),
            ("a\ufffd (2)", 3),
            ("a\ufffd", 4),
            ("n", {"k\x00": 5, "k\udfff": 6}),
        ]
    )
    assert json.loads(dumps(doc)) == {
        "a\ufffd (3)": 1,
        "a\ufffd (4)": 2,
        "a\ufffd (2)": 3,
        "a\ufffd": 4,
        "n": {"k\ufffd": 5, "k\ufffd (2)": 6},
    }
