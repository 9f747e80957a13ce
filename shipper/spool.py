"""The on-disk spool: logs that could not be sent wait here as JSON files.

One file per batch, ``<time_ns>-<pid>-<random>.json`` holding ``{"logs": [...]}``. Files are
written to a hidden temp name, fsynced and ``os.replace``-d into place, so a reader never sees
half a file. The directory is bounded: past ``max_bytes`` the oldest files are removed, with a
warning. Several processes may share one spool: a file sent twice is harmless, since the
collector stores each ``log_id`` once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("shipper")

SUFFIX = ".json"
_TMP_PREFIX = ".tmp-"
# A temp file older than this belongs to a process that died mid-write.
_STALE_TMP_SECONDS = 3600


class Spool:
    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        # Files that exist but cannot be read (another user's, a directory): left alone and
        # out of the listing, so they never stand in front of the files that can be drained.
        self._unreadable: set[str] = set()

    def _ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def write(self, docs: list[bytes]) -> Path | None:
        """Store already-serialised log documents as one file. Returns its path."""
        if not docs:
            return None
        self._ensure_dir()
        body = b'{"logs":[' + b",".join(docs) + b"]}"
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        tmp = self.directory / f"{_TMP_PREFIX}{name}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            final = self.directory / name
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.enforce_bound()
        return final

    def files(self) -> list[Path]:
        """Spooled files, oldest first (the names start with a nanosecond timestamp)."""
        try:
            entries = [
                p
                for p in self.directory.iterdir()
                if p.name.endswith(SUFFIX)
                and not p.name.startswith(".")
                and p.name not in self._unreadable
            ]
        except FileNotFoundError:
            return []
        return sorted(entries, key=lambda p: p.name)

    def __len__(self) -> int:
        return len(self.files())

    def read(self, path: Path) -> list[dict[str, Any]] | None:
        """The logs in one spool file; ``None`` if it is gone (another process took it) or
        cannot be read (then it is skipped from now on, with one warning).

        A file that is not a valid spool file is removed with a warning: it can only come from
        outside the shipper, since the shipper's own writes are atomic.
        """
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._unreadable.add(path.name)
            logger.warning(
                "shipper: cannot read spool file %s (%s); skipping it",
                path.name,
                type(exc).__name__,
            )
            return None
        try:
            data = json.loads(raw)
            logs = data["logs"] if isinstance(data, dict) else data
            if not isinstance(logs, list) or not all(isinstance(d, dict) for d in logs):
                raise ValueError("not a list of log objects")
        except (ValueError, KeyError, TypeError):
            logger.warning("shipper: removing unreadable spool file %s", path.name)
            self.remove(path)
            return []
        return logs

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def size(self) -> int:
        total = 0
        for p in self.files():
            with contextlib.suppress(FileNotFoundError):
                total += p.stat().st_size
        return total

    def enforce_bound(self) -> int:
        """Remove the oldest files until the spool fits in ``max_bytes``; returns logs removed."""
        files = self.files()
        sizes: list[tuple[Path, int]] = []
        for p in files:
            try:
                sizes.append((p, p.stat().st_size))
            except FileNotFoundError:
                continue
        total = sum(s for _, s in sizes)
        removed_files = 0
        removed_logs = 0
        for path, size in sizes:
            if total <= self.max_bytes:
                break
            logs = self.read(path)
            removed_logs += len(logs or [])
            self.remove(path)
            total -= size
            removed_files += 1
        if removed_files:
            logger.warning(
                "shipper: spool over %d bytes; removed the %d oldest file(s) (%d log(s) lost)",
                self.max_bytes,
                removed_files,
                removed_logs,
            )
        self._clean_stale_tmp()
        return removed_logs

    def _clean_stale_tmp(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        try:
            for p in self.directory.iterdir():
                if p.name.startswith(_TMP_PREFIX) and p.stat().st_mtime < cutoff:
                    p.unlink(missing_ok=True)
        except OSError:
            pass
