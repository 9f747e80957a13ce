"""The real service under gunicorn with the repository's gunicorn.conf.py, for live tests.

The server runs in a subprocess against the test database (the SQLite file or the test
PostgreSQL database of this run), so rows a test makes with ``transactional_db`` are what
the server reads. Nothing here is mocked: the tests speak HTTP over real sockets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database this test run uses (its test database, not the real one)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{settings['USER']}{password}@{host}:{port}/{settings['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class LiveServer:
    host: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self, timeout: float = 5) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def output(self) -> str:
        """What the server has printed on stderr so far (its error log)."""
        return self.log.read_text(errors="replace")


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def gunicorn_server(
    tmp_path: Path, *, workers: int = 1, threads: int = 2, **env: str
) -> Iterator[LiveServer]:
    """gunicorn.conf.py serving the test database on a free port; stopped on exit.

    Its error log goes to a file in ``tmp_path`` (a pipe nobody reads would fill up and
    stop the server)."""
    port = free_port()
    log = tmp_path / f"gunicorn-{port}.log"
    environment = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="flusso_site.settings.service",
        DATABASE_URL=database_url(),
        DEBUG="false",
        SECRET_KEY="live-test-only-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_COOKIES="false",
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESS_LOG="",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        INGEST_RATE_LIMIT="1000000/minute",
        REDIS_URL="",
    )
    environment.pop("GUNICORN_WORKER_CLASS", None)
    environment.update(env)
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "flusso_site.wsgi", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    server = LiveServer(host="127.0.0.1", port=port, process=process, log=log)
    try:
        deadline = time.monotonic() + 60
        while not _up(server.url):
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{server.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /api/v1/health within 60 s")
            time.sleep(0.2)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def timed_get(url: str, *, timeout: float = 10, **kwargs) -> tuple[float, requests.Response | None]:
    """(seconds, response) of one GET; the response is None when it timed out."""
    start = time.monotonic()
    try:
        response = requests.get(url, timeout=timeout, **kwargs)
    except requests.Timeout:
        response = None
    return time.monotonic() - start, response


def raw_exchange(server: LiveServer, request: bytes, *, timeout: float = 10) -> bytes:
    """Send raw bytes, read until the server closes (or ``timeout``): the whole answer."""
    with server.connect(timeout=timeout) as sock:
        sock.sendall(request)
        chunks: list[bytes] = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (any 1xx before it included), by its Content-Length."""
    data = b""
    while True:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            if data.startswith(b"HTTP/1.1 1"):
                final = read_response_after(sock, data[head_end + 4 :])
                return data[: head_end + 4] + final
            length = 0
            for line in data[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(data) >= head_end + 4 + length:
                return data
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk


def read_response_after(sock: socket.socket, data: bytes) -> bytes:
    class _Replay:
        def __init__(self) -> None:
            self.pending = data

        def recv(self, size: int) -> bytes:
            if self.pending:
                chunk, self.pending = self.pending, b""
                return chunk
            return sock.recv(size)

    return read_response(_Replay())  # type: ignore[arg-type]
