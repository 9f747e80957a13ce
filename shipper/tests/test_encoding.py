"""A log's wire form (encoding.py): ids, JSON-safety, storable text, what cannot be
encoded."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from shipper.config import Config
from shipper.encoding import MAX_DOC_BYTES, dumps, encode_all
from shipper.stats import Stats

from .conftest import WAIT, FakeCollector, MakeClient, Reply, make_log


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


class _Unreadable(Mapping[str, Any]):
    """A mapping that breaks when read: a bug of ours or the caller's, never a crash."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("unreadable")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("unreadable")

    def __len__(self) -> int:
        return 1


def test_encode_all_counts_each_log_it_cannot_encode_as_rejected_and_keeps_the_rest() -> None:
    stats = Stats()
    good = make_log()
    too_big = make_log(trace="x" * MAX_DOC_BYTES)  # not a trace the size bound can trim
    items = encode_all(["not a log", too_big, _Unreadable(), good], Config(), stats)
    assert [item.log_id for item in items] == [good["log_id"]]
    assert json.loads(items[0].body) == good
    assert stats.snapshot()["rejected"] == 3
