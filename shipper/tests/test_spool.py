"""The spool: atomic files, oldest first, bounded, robust to junk."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipper import cli
from shipper.client import Client
from shipper.config import Config
from shipper.spool import Spool

from .conftest import API_KEY, CLIENT_ID, WAIT, FakeCollector, make_log

MakeClient = Callable[..., Client]


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_written_logs_read_back_identically(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", 10**6)
    docs = [make_log(i) for i in range(3)]
    path = spool.write([body(d) for d in docs])
    assert path is not None and path.exists()
    assert spool.files() == [path]
    assert spool.read(path) == docs


def test_spool_files_and_directory_are_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", 10**6)
    path = spool.write([body(make_log())])
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700


def test_files_are_listed_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6)
    written = [spool.write([body(make_log(i))]) for i in range(5)]
    assert spool.files() == written


def test_a_half_written_temp_file_is_never_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6)
    (tmp_path / ".tmp-00000000000000000001-1-abcd.json").write_bytes(b'{"logs":[{"log_')
    assert spool.files() == []


def test_nothing_to_write_writes_nothing(tmp_path: Path) -> None:
    assert Spool(tmp_path, 10**6).write([]) is None
    assert list(tmp_path.iterdir()) == []


def test_the_bound_removes_the_oldest_files_with_a_warning(tmp_path: Path, caplog: Any) -> None:
    one = body(make_log(trace={"pad": "x" * 1000}))
    spool = Spool(tmp_path, max_bytes=3 * (len(one) + 20))
    with caplog.at_level(logging.WARNING, logger="shipper"):
        written = [spool.write([one]) for _ in range(5)]
    assert spool.files() == written[-3:]
    assert spool.size() <= spool.max_bytes
    assert "removed the 1 oldest file(s) (1 log(s) lost)" in caplog.text


def test_a_corrupt_file_is_removed_with_a_warning(tmp_path: Path, caplog: Any) -> None:
    spool = Spool(tmp_path, 10**6)
    junk = tmp_path / "00000000000000000001-1-abcd.json"
    junk.write_text("not json")
    with caplog.at_level(logging.WARNING, logger="shipper"):
        assert spool.read(junk) == []
    assert not junk.exists()
    assert "unreadable spool file" in caplog.text


def test_a_file_taken_by_another_process_reads_as_none(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10**6)
    path = spool.write([body(make_log())])
    assert path is not None
    path.unlink()
    assert spool.read(path) is None
    spool.remove(path)  # and removing it again is fine


def test_a_missing_directory_is_an_empty_spool(tmp_path: Path) -> None:
    assert Spool(tmp_path / "nope", 10**6).files() == []


# -- claims: several drainers, one spool --------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# A child that says when it is sending, so the test can kill it while it holds a claim.
SAYS_WHEN_SENDING = """
import sys
from shipper import cli, delivery
deliver = delivery.Delivery.deliver
def announced(self, items, max_retries):
    print("sending", flush=True)
    return deliver(self, items, max_retries)
delivery.Delivery.deliver = announced
sys.exit(cli.main(["send"]))
"""
# A child that dies between delivering a spool file and removing it.
DIES_BEFORE_REMOVING = """
import os, signal, sys
from shipper import cli, spool
spool.Claim.done = lambda self: os.kill(os.getpid(), signal.SIGKILL)
sys.exit(cli.main(["send"]))
"""


def shipper_env(collector: FakeCollector, spool_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "CLIENT_ID"))}
    env.update(
        LOG_COLLECTOR_URL=collector.url,
        LOG_COLLECTOR_API_KEY=API_KEY,
        CLIENT_ID=CLIENT_ID,
        LOG_PII_SALT="test-salt",
        LOG_SPOOL_DIR=str(spool_dir),
        LOG_SHIPPER_MAX_RETRIES="0",
    )
    return env


def fill(spool: Spool, files: int, per_file: int) -> list[str]:
    ids = []
    for _ in range(files):
        docs = [make_log(i) for i in range(per_file)]
        spool.write([body(d) for d in docs])
        ids += [d["log_id"] for d in docs]
    return ids


def left_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def drain_in_this_process(spool_dir: Path, url: str) -> str:
    env = {"LOG_COLLECTOR_URL": url, "LOG_COLLECTOR_API_KEY": API_KEY, "CLIENT_ID": CLIENT_ID}
    out = io.StringIO()
    config = Config.from_env({**env, "LOG_PII_SALT": "test-salt", "LOG_SPOOL_DIR": str(spool_dir)})
    assert cli.send(config, [], out) == 0, out.getvalue()
    return out.getvalue()


def test_two_processes_draining_one_spool_deliver_each_log_once(
    collector: FakeCollector, tmp_path: Path
) -> None:
    """Both start on the same oldest file at the same time; each file is sent by one."""
    ids = fill(Spool(tmp_path, 10**9), files=60, per_file=3)
    collector.delay = 0.01  # each file takes a while, so the two overlap all along
    env = shipper_env(collector, tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "shipper", "send"], cwd=ROOT, env=env, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {collector.received[i] for i in ids} == {1}
    assert {collector.stored[i] for i in ids} == {1}
    assert left_in(tmp_path) == []


def test_two_drainers_in_one_process_deliver_each_log_once(
    collector: FakeCollector, tmp_path: Path
) -> None:
    """Two clients of one process sharing a spool exclude each other too."""
    spool_dir = tmp_path / "spool"
    ids = fill(Spool(spool_dir, 10**9), files=30, per_file=2)
    collector.delay = 0.005
    start = threading.Barrier(2)

    def drain() -> None:
        start.wait()
        drain_in_this_process(spool_dir, collector.url)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {collector.received[i] for i in ids} == {1}
    assert left_in(spool_dir) == []


def test_a_file_claimed_by_a_killed_process_is_sent_by_the_next_drain(
    collector: FakeCollector, tmp_path: Path
) -> None:
    ids = fill(Spool(tmp_path, 10**9), files=1, per_file=3)
    collector.delay = 30.0  # the child is in the middle of sending when it is killed
    child = subprocess.Popen(
        [sys.executable, "-c", SAYS_WHEN_SENDING],
        cwd=ROOT,
        env=shipper_env(collector, tmp_path),
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"sending\n"
        assert Spool(tmp_path, 10**9).claim(Spool(tmp_path, 10**9).files()[0]) is None
    finally:
        child.kill()
        child.wait(WAIT)
    collector.delay = 0.0
    out = drain_in_this_process(tmp_path, collector.url)
    assert "from spool 3" in out
    assert {collector.stored[i] for i in ids} == {1}
    assert left_in(tmp_path) == []


def test_a_crash_between_sending_and_removing_a_file_loses_nothing(
    collector: FakeCollector, tmp_path: Path
) -> None:
    ids = fill(Spool(tmp_path, 10**9), files=2, per_file=2)
    child = subprocess.run(
        [sys.executable, "-c", DIES_BEFORE_REMOVING],
        cwd=ROOT,
        env=shipper_env(collector, tmp_path),
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL
    assert {collector.stored[i] for i in ids[:2]} == {1}  # the first file went, then it died
    assert len(left_in(tmp_path)) == 2  # ... before removing it
    out = drain_in_this_process(tmp_path, collector.url)
    assert "from spool 4" in out and "(duplicates 2)" in out
    assert {collector.stored[i] for i in ids} == {1}
    assert left_in(tmp_path) == []


def test_a_claimed_file_is_nobody_elses_until_released(tmp_path: Path) -> None:
    spool, other = Spool(tmp_path, 10**6), Spool(tmp_path, 10**6)
    path = spool.write([body(make_log())])
    assert path is not None
    claim = spool.claim(path)
    assert claim is not None
    assert other.claim(path) is None and spool.claim(path) is None
    assert other.files() == [path]  # still listed, and readable, while claimed
    claim.release()
    again = other.claim(path)
    assert again is not None
    again.done()
    assert not path.exists() and other.claim(path) is None


def test_a_forked_child_does_not_keep_its_parents_claim(tmp_path: Path) -> None:
    """A fork while a file is being sent (a pre-forking server) must not lock that file for
    the child's whole life."""
    spool = Spool(tmp_path, 10**6)
    path = spool.write([body(make_log())])
    assert path is not None
    claim = spool.claim(path)
    assert claim is not None
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: say it runs, then live on until the parent is done
        os.close(write_end)
        os.write(ready_write, b"r")
        os.read(read_end, 1)
        os._exit(0)
    os.close(read_end)
    try:
        assert os.read(ready_read, 1) == b"r"
        claim.release()
        again = spool.claim(path)
        assert again is not None, "the child still holds the parent's claim"
        again.release()
    finally:
        os.close(write_end)
        os.waitpid(pid, 0)
        os.close(ready_read)
        os.close(ready_write)


def test_the_bound_does_not_remove_a_file_being_sent(tmp_path: Path) -> None:
    one = body(make_log(trace={"pad": "x" * 1000}))
    spool = Spool(tmp_path, max_bytes=2 * (len(one) + 20))
    sending = spool.write([one])
    assert sending is not None
    claim = spool.claim(sending)
    assert claim is not None
    written = [spool.write([one]) for _ in range(2)]
    assert sending.exists()  # it is gone the moment it is delivered anyway
    assert spool.files() == [sending, written[-1]]
    claim.release()


def test_the_worker_sends_the_other_files_while_one_is_claimed_elsewhere_without_spinning(
    collector: FakeCollector, make_client: MakeClient, tmp_path: Path, monkeypatch: Any
) -> None:
    spool = Spool(tmp_path, 10**9)
    held_ids, free_ids = fill(spool, files=1, per_file=2), fill(spool, files=1, per_file=2)
    held = spool.claim(spool.files()[0])  # another drainer is sending the oldest file
    assert held is not None
    attempts = []
    claim = Spool.claim

    def counted(self: Spool, path: Path) -> Any:
        attempts.append(path.name)
        return claim(self, path)

    monkeypatch.setattr(Spool, "claim", counted)
    client = make_client(collector.url, spool_dir=str(tmp_path), flush_interval=0.05)
    client.start()
    try:
        assert collector.wait_for(lambda: all(collector.stored[i] for i in free_ids))
        time.sleep(0.5)  # ten flush intervals: a worker spinning on it tries thousands of times
        tries = attempts.count(held.path.name)
        assert 1 <= tries <= 30, tries
        assert not any(collector.received[i] for i in held_ids)
    finally:
        held.release()
    assert collector.wait_for(lambda: all(collector.stored[i] == 1 for i in held_ids))
