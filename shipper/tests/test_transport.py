"""HTTP to the collector (transport.py): the batch endpoint, the key, gzip, keep-alive,
Retry-After.

No sleeps as assertions: tests wait for a condition with a generous deadline (``WAIT``) and
assert on what the server recorded and on ``stats()``.
"""

from __future__ import annotations

from shipper.transport import parse_retry_after

from .conftest import API_KEY, WAIT, FakeCollector, MakeClient, Reply, ids, make_log


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


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


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
