"""The client (client.py): the public API, the queue, flush and close, configure, fork,
exit."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import shipper
from shipper.client import Client
from shipper.spool import Spool

from .conftest import API_KEY, WAIT, FakeCollector, MakeClient, free_port, load_sample, make_log


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


def test_a_full_queue_drops_and_counts_instead_of_blocking(
    monkeypatch: pytest.MonkeyPatch, make_client: MakeClient
) -> None:
    client = make_client("http://127.0.0.1:9/api/v1/logs", max_queue_size=2)
    monkeypatch.setattr(client, "start", lambda: None)  # no worker: nothing leaves the queue
    accepted = [client.enqueue(make_log(i)) for i in range(5)]
    assert accepted == [True, True, False, False, False]
    counts = client.snapshot()
    assert (counts["queued"], counts["dropped"], counts["pending"]) == (2, 3, 2)


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
