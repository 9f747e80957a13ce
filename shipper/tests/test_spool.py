"""The spool: atomic files, oldest first, bounded, robust to junk."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

from shipper.spool import Spool

from .conftest import make_log


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
