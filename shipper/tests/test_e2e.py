"""End to end: the shipper against the real collector (pytest-django's live_server).

This file may import Django and the collector (it is a test); the package never does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import shipper
from shipper import cli
from shipper.config import Config
from shipper.encoding import dumps
from shipper.spool import Spool
from shipper.transport import OK, Transport

from .conftest import WAIT, free_port, load_sample

django = pytest.importorskip("django")

from collector.models import Client, WorkflowLog  # noqa: E402
from collector.services import api_key_create  # noqa: E402
from django.urls import reverse  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

SALT = "e2e-salt"
START = dt.datetime(2026, 11, 20, 9, 14, 5, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(seconds=4.82)
SAMPLES = ("state_success.json", "state_failed.json", "state_escalated.json")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The collector's rate-limit counters live in the cache; start from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tenant() -> tuple[Client, str]:
    client = Client.objects.create(name="Acme Plumbing", slug="acme")
    _, raw_key = api_key_create(client=client, label="e2e")
    return client, raw_key


def ship_config(url: str, key: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "collector_url": url,
        "api_key": key,
        "client_id": "acme",
        "pii_salt": SALT,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "flush_interval": 0.05,
        "connect_timeout": 1.0,
        "read_timeout": 5.0,
    }
    values.update(overrides)
    return values


def logs_url(live_server: Any) -> str:
    """LOG_COLLECTOR_URL as a deployment sets it: the single-log endpoint's full address."""
    return live_server.url + reverse("collector:log-ingest")


def stored_ids(client: Client) -> list[str]:
    return [
        str(i) for i in WorkflowLog.objects.filter(client=client).values_list("log_id", flat=True)
    ]


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll ``predicate`` until true or ``timeout``: a deadline, not a measurement."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Proxy:
    """A TCP forwarder in front of the live server that can be taken down and brought back
    on the same port: the collector's outage, as the shipper sees it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            conns, self.conns = self.conns, []
        for conn in conns:  # kill the keep-alive connections too
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.conns += [downstream, upstream]
            for a, b in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxy(live_server: Any) -> Iterator[Proxy]:
    port = int(live_server.url.rsplit(":", 1)[1])
    p = Proxy(port)
    p.start()
    yield p
    p.stop()


def test_built_logs_arrive_once_with_pii_hashed(live_server: Any, tenant: Any) -> None:
    client, key = tenant
    shipper.configure(**ship_config(logs_url(live_server), key))
    docs = [
        shipper.build_workflow_log(load_sample(name), START, END, workflow_version="v1.0")
        for name in SAMPLES
    ]
    for doc in docs:
        shipper.ship_log_async(doc)
    assert shipper.flush(WAIT)
    assert sorted(stored_ids(client)) == sorted(d["log_id"] for d in docs)
    counts = shipper.stats()
    assert (counts["sent"], counts["rejected"], counts["dropped"]) == (3, 0, 0)

    row = WorkflowLog.objects.get(client=client, ticket_id="48213")
    assert row.status == "SUCCESS"
    assert row.overall_confidence == 0.82
    assert row.react_iterations == 4
    ticket = row.document["trace"]["ticket"]
    assert ticket["requester_email"] == shipper.hash_pii("jane.doe@example.com", SALT)
    stored = json.dumps([r.document for r in WorkflowLog.objects.filter(client=client)])
    for needle in (
        "jane.doe@example.com",
        "Jane Doe",
        "415 555 0142",
        "m.rossi@example.org",
        "legal@acme-law",
        "sk-proj-abc123def456",
        "fd_live_",
        "ord_live_5566",
    ):
        assert needle not in stored


def test_contract_every_shape_the_builder_makes_is_accepted(live_server: Any, tenant: Any) -> None:
    """A shipper-built batch (samples, empty, hostile, oversized states) posted as is:
    the collector creates every one of them, rejects none."""
    client, key = tenant
    huge = load_sample("state_success.json")
    huge["react_iterations"] = [{"thought": "t" * 4000, "observation": "o" * 4000}] * 200
    states: list[Any] = [load_sample(name) for name in SAMPLES]
    # Text PostgreSQL cannot store (a NUL, a lone surrogate): the shipper replaces it.
    unstorable = {**load_sample("state_success.json"), "ticket_id": "T-\x00-\ud800"}
    unstorable["ticket"] = {**unstorable["ticket"], "subject\x00": "a\udfffb"}
    states += [{}, None, {"status": "weird", "confidence": {"overall": 9}}, huge, unstorable]
    docs = [shipper.build_workflow_log(s, START, END) for s in states]
    docs[0]["client_id"] = "acme"
    config = Config(**ship_config(logs_url(live_server), key))
    for doc in docs:
        doc["client_id"] = "acme"
    transport = Transport(config)
    try:
        out = transport.post_batch([dumps(d) for d in docs])
    finally:
        transport.close()
    assert out.kind == OK, out
    assert (out.created, out.duplicate, out.rejected) == (len(docs), 0, 0), out.rejections
    assert WorkflowLog.objects.filter(client=client).count() == len(docs)
    assert WorkflowLog.objects.filter(client=client, ticket_id="T-\ufffd-\ufffd").exists()


def test_n_logs_through_an_outage_arrive_exactly_n_times(
    proxy: Proxy, tenant: Any, tmp_path: Path
) -> None:
    client, key = tenant
    shipper.configure(
        **ship_config(
            f"http://127.0.0.1:{proxy.port}" + reverse("collector:log-ingest"),
            key,
            spool_dir=str(tmp_path / "spool"),
            max_retries=2,
        )
    )
    before = shipper.build_workflow_log(load_sample("state_success.json"), START, END)
    shipper.ship_log_async(before)
    assert shipper.flush(WAIT)
    assert stored_ids(client) == [before["log_id"]]

    proxy.stop()  # the collector goes away
    n = 25
    during = [
        shipper.build_workflow_log(
            {**load_sample("state_failed.json"), "ticket_id": str(i)}, START, END
        )
        for i in range(n)
    ]
    for doc in during:
        shipper.ship_log_async(doc)
    assert shipper.flush(WAIT)  # settled: in the spool, since the collector is down
    assert shipper.stats()["spooled"] == n
    assert WorkflowLog.objects.filter(client=client).count() == 1

    proxy.start()  # it comes back; the worker notices on its own and drains the spool
    expected = {before["log_id"]} | {d["log_id"] for d in during}
    assert wait_until(lambda: set(stored_ids(client)) == expected)
    assert wait_until(lambda: not Spool(tmp_path / "spool", 10**9).files())
    assert WorkflowLog.objects.filter(client=client).count() == n + 1
    counts = shipper.stats()
    assert (counts["unspooled"], counts["dropped"], counts["rejected"]) == (n, 0, 0)


def test_logs_spooled_by_a_process_that_never_reached_the_collector_arrive_on_restart(
    live_server: Any, tenant: Any, tmp_path: Path
) -> None:
    client, key = tenant
    spool_dir = str(tmp_path / "spool")
    shipper.configure(
        **ship_config(
            f"http://127.0.0.1:{free_port()}/api/v1/logs", key, spool_dir=spool_dir, max_retries=1
        )
    )
    docs = [shipper.build_workflow_log(load_sample(n), START, END) for n in SAMPLES]
    for doc in docs:
        shipper.ship_log_async(doc)
    assert shipper.shutdown(WAIT)
    assert WorkflowLog.objects.filter(client=client).count() == 0

    # The "next start": same spool, the collector's real address.
    shipper.configure(**ship_config(logs_url(live_server), key, spool_dir=spool_dir))
    assert wait_until(lambda: sorted(stored_ids(client)) == sorted(d["log_id"] for d in docs))
    assert wait_until(lambda: not Spool(spool_dir, 10**9).files())


def test_a_wrong_client_id_keeps_the_logs_in_the_spool(
    live_server: Any, tenant: Any, tmp_path: Path
) -> None:
    client, key = tenant
    spool = Spool(tmp_path / "spool", 10**9)
    shipper.configure(
        **ship_config(
            logs_url(live_server),
            key,
            spool_dir=str(spool.directory),
            client_id="someone-else",
        )
    )
    shipper.ship_log_async(
        shipper.build_workflow_log({"ticket_id": "1", "status": "SUCCESS"}, START, END)
    )
    assert shipper.flush(WAIT)
    assert WorkflowLog.objects.filter(client=client).count() == 0
    assert sum(len(spool.read(f) or []) for f in spool.files()) == 1
    assert shipper.stats()["dropped"] == 0


@pytest.fixture
def check_env(monkeypatch: pytest.MonkeyPatch, live_server: Any, tenant: Any) -> pytest.MonkeyPatch:
    _, key = tenant
    monkeypatch.setenv("LOG_COLLECTOR_URL", logs_url(live_server))
    monkeypatch.setenv("LOG_COLLECTOR_API_KEY", key)
    monkeypatch.setenv("CLIENT_ID", "acme")
    return monkeypatch


def test_check_says_all_good_against_the_real_collector(check_env: Any, capsys: Any) -> None:
    assert cli.main(["check"]) == cli.OK
    assert "ALL GOOD" in capsys.readouterr().out


def test_check_reports_a_wrong_key(check_env: pytest.MonkeyPatch, capsys: Any) -> None:
    check_env.setenv("LOG_COLLECTOR_API_KEY", "flk_000000000000_notarealsecret")
    assert cli.main(["check"]) == cli.KEY_REJECTED
    out = capsys.readouterr().out
    assert "KEY REJECTED" in out and "notarealsecret" not in out


def test_check_reports_a_client_id_mismatch(check_env: pytest.MonkeyPatch, capsys: Any) -> None:
    check_env.setenv("CLIENT_ID", "client_xyz")
    assert cli.main(["check"]) == cli.CLIENT_MISMATCH
    assert "the key belongs to 'acme'" in capsys.readouterr().out


def test_without_client_id_the_key_says_whose_logs_they_are(live_server: Any, tenant: Any) -> None:
    """CLIENT_ID unset: the log must not claim a client ("unknown") the collector refuses
    with 403 forever; the API key names the client."""
    client, key = tenant
    shipper.configure(**ship_config(logs_url(live_server), key, client_id=None))
    doc = shipper.build_workflow_log(load_sample("state_success.json"), START, END)
    shipper.ship_log_async(doc)
    assert shipper.flush(WAIT)
    assert stored_ids(client) == [doc["log_id"]]
    assert WorkflowLog.objects.get(client=client).document["client_id"] == "acme"
