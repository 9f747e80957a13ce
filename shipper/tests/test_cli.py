"""``python -m shipper check`` and ``send``: one plain diagnosis, an exit code per case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shipper import cli
from shipper.spool import Spool

from .conftest import API_KEY, CLIENT_ID, FakeCollector, Reply, free_port, make_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, collector: FakeCollector) -> pytest.MonkeyPatch:
    monkeypatch.setenv("LOG_COLLECTOR_URL", collector.url)
    monkeypatch.setenv("LOG_COLLECTOR_API_KEY", API_KEY)
    monkeypatch.setenv("CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("LOG_SHIPPER_MAX_RETRIES", "0")
    return monkeypatch


def run(argv: list[str], capsys: Any) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().out


def test_check_all_good(env: pytest.MonkeyPatch, capsys: Any) -> None:
    code, out = run(["check"], capsys)
    assert code == cli.OK
    assert "ALL GOOD" in out
    assert "s3cr3tPartOfTheKey" not in out
    assert "LOG_SPOOL_DIR is not set" in out  # a warning, not a failure


def test_check_not_configured(capsys: Any) -> None:
    code, out = run(["check"], capsys)
    assert code == cli.NOT_CONFIGURED
    assert "NOT CONFIGURED: LOG_COLLECTOR_URL, LOG_COLLECTOR_API_KEY, CLIENT_ID not set." in out


def test_check_disabled(env: pytest.MonkeyPatch, capsys: Any) -> None:
    env.setenv("ENABLE_CENTRALIZED_LOGGING", "off")
    code, out = run(["check"], capsys)
    assert code == cli.NOT_CONFIGURED
    assert "ENABLE_CENTRALIZED_LOGGING is off" in out


def test_check_unreachable(env: pytest.MonkeyPatch, capsys: Any) -> None:
    env.setenv("LOG_COLLECTOR_URL", f"http://127.0.0.1:{free_port()}/api/v1/logs")
    code, out = run(["check"], capsys)
    assert code == cli.UNREACHABLE
    assert "UNREACHABLE: cannot reach" in out


def test_check_unhealthy_collector(
    env: pytest.MonkeyPatch, collector: FakeCollector, capsys: Any
) -> None:
    collector.script.append(Reply(503, {"status": "error", "database": "unavailable"}))
    code, out = run(["check"], capsys)
    assert code == cli.UNREACHABLE
    assert "answered HTTP 503 (database: unavailable)" in out


def test_check_key_rejected(env: pytest.MonkeyPatch, capsys: Any) -> None:
    env.setenv("LOG_COLLECTOR_API_KEY", "flk_ffffffffffff_wrongsecret")
    code, out = run(["check"], capsys)
    assert code == cli.KEY_REJECTED
    assert "KEY REJECTED" in out and "flk_ffffffffffff" in out
    assert "wrongsecret" not in out


def test_check_a_key_that_may_only_read_is_rejected(
    env: pytest.MonkeyPatch, collector: FakeCollector, capsys: Any
) -> None:
    whoami = {"client_id": CLIENT_ID, "key_prefix": API_KEY[:16], "scopes": ["read"]}
    collector.script.extend([Reply(200, {"status": "ok", "database": "ok"}), Reply(200, whoami)])
    code, out = run(["check"], capsys)
    assert code == cli.KEY_REJECTED
    assert "may not send logs (its scopes: read)" in out


def test_check_client_mismatch(env: pytest.MonkeyPatch, capsys: Any) -> None:
    env.setenv("CLIENT_ID", "someone-else")
    code, out = run(["check"], capsys)
    assert code == cli.CLIENT_MISMATCH
    assert "CLIENT MISMATCH: CLIENT_ID is 'someone-else' but the key belongs to 'acme'" in out


def test_python_dash_m_shipper_check_runs_as_a_module(collector: FakeCollector) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "CLIENT_ID"))}
    env.update(LOG_COLLECTOR_URL=collector.url, LOG_COLLECTOR_API_KEY=API_KEY, CLIENT_ID="acme")
    done = subprocess.run(
        [sys.executable, "-m", "shipper", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ALL GOOD" in done.stdout


def test_send_ships_files_in_every_accepted_shape(
    env: pytest.MonkeyPatch, collector: FakeCollector, tmp_path: Path, capsys: Any
) -> None:
    one, listed, enveloped = make_log(1), [make_log(2), make_log(3)], {"logs": [make_log(4)]}
    paths = []
    for name, content in (("one", one), ("list", listed), ("env", enveloped)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(content))
        paths.append(str(path))
    code, out = run(["send", *paths], capsys)
    assert code == 0, out
    assert len(collector.stored) == 4
    assert "sent 4 (duplicates 0), rejected 0" in out
    # Sending again is harmless: the collector answers duplicate.
    code, out = run(["send", *paths], capsys)
    assert code == 0 and "sent 4 (duplicates 4)" in out
    assert set(collector.stored.values()) == {1}


def test_send_drains_the_spool(
    env: pytest.MonkeyPatch, collector: FakeCollector, tmp_path: Path, capsys: Any
) -> None:
    env.setenv("LOG_SPOOL_DIR", str(tmp_path))
    docs = [make_log(i) for i in range(3)]
    spool = Spool(tmp_path, 10**9)
    spool.write([json.dumps(d).encode() for d in docs[:2]])
    spool.write([json.dumps(docs[2]).encode()])
    code, out = run(["send"], capsys)
    assert code == 0, out
    assert all(collector.stored[d["log_id"]] == 1 for d in docs)
    assert spool.files() == []
    assert "from spool 3" in out


def test_send_to_a_down_collector_fails_and_keeps_the_spool(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    env.setenv("LOG_COLLECTOR_URL", f"http://127.0.0.1:{free_port()}/api/v1/logs")
    env.setenv("LOG_SPOOL_DIR", str(tmp_path / "spool"))
    spool = Spool(tmp_path / "spool", 10**9)
    spool.write([json.dumps(make_log()).encode()])
    log_file = tmp_path / "log.json"
    log_file.write_text(json.dumps(make_log()))
    code, out = run(["send", str(log_file)], capsys)
    assert code == 1
    assert "1 log(s) not delivered" in out
    assert len(spool.files()) == 1
    assert log_file.exists()


def test_send_reports_an_unreadable_file(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out = run(["send", str(bad)], capsys)
    assert code == 1
    assert "bad.json: unreadable (JSONDecodeError)" in out


def test_send_with_a_rejected_key_fails_instead_of_waiting_forever(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    env.setenv("LOG_COLLECTOR_API_KEY", "flk_ffffffffffff_wrongsecret")
    log_file = tmp_path / "log.json"
    log_file.write_text(json.dumps(make_log()))
    code, out = run(["send", str(log_file)], capsys)
    assert code == 1
    assert "1 log(s) not delivered" in out


def test_send_skips_an_unreadable_spool_file_and_drains_the_rest(
    env: pytest.MonkeyPatch, collector: FakeCollector, tmp_path: Path, capsys: Any
) -> None:
    env.setenv("LOG_SPOOL_DIR", str(tmp_path))
    (tmp_path / "00000000000000000001-1-abcd.json").mkdir()
    doc = make_log()
    Spool(tmp_path, 10**9).write([json.dumps(doc).encode()])
    code, out = run(["send"], capsys)
    assert collector.stored[doc["log_id"]] == 1
    assert "from spool 1" in out
    assert code == 0, out


def test_send_fails_when_the_collector_rejects_a_log(
    env: pytest.MonkeyPatch, collector: FakeCollector, tmp_path: Path, capsys: Any
) -> None:
    good, bad = make_log(1), make_log(2)
    collector.reject_ids.add(bad["log_id"])
    path = tmp_path / "logs.json"
    path.write_text(json.dumps([good, bad, "not a log"]))
    code, out = run(["send", str(path)], capsys)
    assert code == 1, out
    assert "logs.json: 1 log(s) delivered, 2 rejected" in out


def test_check_says_when_the_url_is_not_a_flusso_collector(
    env: pytest.MonkeyPatch, collector: FakeCollector, capsys: Any
) -> None:
    # Any web server answers 200 to a GET; only the collector answers {"status": "ok"}.
    collector.script.extend([Reply(200, b"<html>hello</html>"), Reply(200, b"<html>hello</html>")])
    code, out = run(["check"], capsys)
    assert code == cli.UNREACHABLE
    assert "not a Flusso collector" in out and "LOG_COLLECTOR_URL" in out
