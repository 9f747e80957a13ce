"""The on-disk spool: logs that could not be sent wait here as JSON files.

One file per batch, ``<time_ns>-<pid>-<random>.json`` holding ``{"logs": [...]}``. Files are
written to a hidden temp name, fsynced and ``os.replace``-d into place, so a reader never sees
half a file. The directory is bounded: past ``max_bytes`` the oldest files are removed, with a
warning.

Several processes (and several clients in one process) may share one spool. A drainer first
*claims* a file: an exclusive ``flock`` on it, held while the logs are sent and until the file
is removed. Another drainer that finds it locked skips it, so no file is sent twice at the same
time. The kernel drops the lock when its holder ends, however it ends (SIGKILL included), so a
file claimed by a process that died is taken by the next drain: nothing is stranded, and a
crash between sending and removing the file only means its logs are sent again, which is
harmless since the collector stores each ``log_id`` once. The files stay where they are while
claimed, so anyone may still read and count them. A forked child closes its copies of its
parent's locks, so a fork while a file is being sent does not hold that file for the child's
whole life.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from .encoding import envelope

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no claims, a file may be sent twice
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("shipper")

SUFFIX = ".json"
_TMP_PREFIX = ".tmp-"
# A temp file older than this belongs to a process that died mid-write.
_STALE_TMP_SECONDS = 3600

# The descriptors of the claims this process holds, so that a forked child can close its
# copies: a lock belongs to the open file, which the child's copy would keep locked.
_held: set[int] = set()
_held_lock = threading.Lock()


def _close_inherited_claims() -> None:
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_claims)


class Claim:
    """One spool file this process has taken to send: locked until ``done`` or ``release``."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    def done(self) -> None:
        """The logs are delivered (or written back): remove the file, then let go of it. In
        this order, so no other drainer can take the file between the two."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.release()

    def release(self) -> None:
        """Let go of the file, leaving it in the spool."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _held_lock:
            held = fd in _held
            _held.discard(fd)
        if held:  # else a fork since closed it (and the number may be another file's now)
            with contextlib.suppress(OSError):
                os.close(fd)


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
        body = envelope(docs)
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
            self._skip(path, exc)
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

    def claim(self, path: Path) -> Claim | None:
        """Take ``path`` to send it; None if another drainer has it or it is gone, or if it
        cannot be opened (another user's file: then it is skipped from now on, with one
        warning)."""
        if fcntl is None:  # pragma: no cover - not POSIX
            return Claim(path, None)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._skip(path, exc)
            return None
        with _held_lock:
            _held.add(fd)
        claim = Claim(path, fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The holder before us may have sent and removed it while we were opening it.
            mine, now = os.fstat(fd), os.stat(path)
            if (mine.st_dev, mine.st_ino) != (now.st_dev, now.st_ino):
                raise FileNotFoundError(path)
        except OSError:  # locked by another drainer (BlockingIOError), or gone
            claim.release()
            return None
        return claim

    def _skip(self, path: Path, exc: OSError) -> None:
        self._unreadable.add(path.name)
        logger.warning(
            "shipper: cannot read spool file %s (%s); skipping it",
            path.name,
            type(exc).__name__,
        )

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
            claim = self.claim(path)
            if claim is None:
                continue  # being sent right now (or gone): the next one goes instead
            logs = self.read(path)
            removed_logs += len(logs or [])
            claim.done()
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
