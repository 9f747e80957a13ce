"""Fixtures: a scriptable fake collector on a real socket, hermetic configuration."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import shipper
from shipper import _guard as guard_module
from shipper import client as client_module
from shipper import config as config_module
from shipper.client import Client
from shipper.config import Config

SAMPLES = Path(__file__).parent / "samples"  # copies of /work/shared/samples
ENV_NAMES = (
    "CLIENT_ID",
    "LOG_COLLECTOR_URL",
    "LOG_COLLECTOR_API_KEY",
    "ENABLE_CENTRALIZED_LOGGING",
    "ENVIRONMENT",
    "LOG_PII_SALT",
    "LOG_SPOOL_DIR",
    "LOG_SHIPPER_QUEUE_SIZE",
    "LOG_SHIPPER_BATCH_SIZE",
    "LOG_SHIPPER_FLUSH_INTERVAL",
    "LOG_SHIPPER_TIMEOUT",
    "LOG_SHIPPER_MAX_RETRIES",
    "LOG_SPOOL_MAX_MB",
    "LOG_MAX_LOG_KB",
    "LOG_SHIPPER_EXIT_TIMEOUT",
)
API_KEY = "flk_0123456789ab_s3cr3tPartOfTheKey"
CLIENT_ID = "acme"
# Generous upper bound for the worker to do what a test waits for; never a measured duration.
WAIT = 10.0


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["log_id"] for d in docs]


def load_sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def make_log(n: int = 0, **extra: Any) -> dict[str, Any]:
    """A small valid log document with a fresh log_id."""
    doc: dict[str, Any] = {
        "log_id": str(uuid.uuid4()),
        "schema_version": "1.0",
        "client_id": CLIENT_ID,
        "environment": "test",
        "workflow_version": "v1.0",
        "ticket_id": str(1000 + n),
        "status": "SUCCESS",
        "timestamp": "2026-11-20T09:14:09+00:00",
        "execution_time_seconds": 1.5,
        "metrics": {"react_iterations": 1},
        "error": None,
        "trace": {},
    }
    doc.update(extra)
    return doc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeCollector:
    """The collector's batch API as the contract describes it, with failure modes on demand.

    ``script`` holds replies served (in order) before normal processing; ``delay`` slows every
    request; ``max_docs`` answers 413 to bigger batches; ``reject_ids`` / ``invalid_ids`` /
    ``too_large_ids`` make single documents rejected per item / 400 / 413; ``crash_ids`` make
    any batch holding them answer 500.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.api_key = API_KEY
        self.client_id = CLIENT_ID
        self.health_status = 200
        self.script: deque[Reply] = deque()
        self.delay = 0.0
        self.max_docs: int | None = None
        self.reject_ids: set[str] = set()
        self.invalid_ids: set[str] = set()
        self.too_large_ids: set[str] = set()
        self.crash_ids: set[str] = set()  # a batch holding one of these answers 500
        self.requests: list[dict[str, Any]] = []
        self.stored: Counter[str] = Counter()  # log_id -> times stored as "created"
        self.received: Counter[str] = Counter()  # log_id -> times seen in any request
        self.docs: dict[str, dict[str, Any]] = {}
        self.connections: set[tuple[str, int]] = set()
        self.cond = threading.Condition()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/api/v1/logs"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                fake._handle(self, raw)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and hung up is a case we cause on purpose

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # -- request handling ----------------------------------------------------------------------

    def _reply(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        raw = isinstance(reply.body, bytes)  # an answer that is not JSON at all, e.g. HTML
        if raw:
            body = reply.body
        else:
            body = json.dumps(reply.body).encode() if reply.body is not None else b""
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "text/html" if raw else "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler, raw: bytes | None) -> None:
        if self.delay:
            time.sleep(self.delay)
        payload = json.loads(raw) if raw else None
        docs = payload.get("logs", []) if isinstance(payload, dict) else []
        record = {
            "method": handler.command,
            "path": handler.path,
            "headers": dict(handler.headers.items()),
            "raw_size": int(handler.headers.get("Content-Length") or 0),
            "docs": docs,
        }
        with self.cond:
            self.connections.add(handler.client_address)
            self.requests.append(record)
            for doc in docs:
                self.received[doc.get("log_id")] += 1
            reply = self.script.popleft() if self.script else None
        if reply is None:
            reply = self._answer(handler, docs)
        self._reply(handler, reply)
        with self.cond:
            self.cond.notify_all()

    def _error(self, status: int, code: str) -> Reply:
        return Reply(status, {"error": {"code": code, "message": code, "fields": {}}})

    def _answer(self, handler: BaseHTTPRequestHandler, docs: list[dict[str, Any]]) -> Reply:
        path = handler.path.rstrip("/")
        if path == "/api/v1/health":
            ok = self.health_status == 200
            return Reply(self.health_status, {"status": "ok" if ok else "error", "database": "ok"})
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "authentication_failed")
        if path == "/api/v1/whoami":
            return Reply(
                200,
                {
                    "client_id": self.client_id,
                    "client_name": "Acme",
                    "key_prefix": self.api_key[:16],
                    "key_label": "test",
                },
            )
        if path != "/api/v1/logs/batch":
            return self._error(404, "not_found")
        ids = {d.get("log_id") for d in docs}
        if (self.max_docs is not None and len(docs) > self.max_docs) or ids & self.too_large_ids:
            return self._error(413, "too_large")
        if ids & self.invalid_ids:
            return self._error(400, "invalid")
        if ids & self.crash_ids:
            return self._error(500, "server_error")
        results = []
        counts = Counter[str]()
        with self.cond:
            for index, doc in enumerate(docs):
                log_id = doc.get("log_id")
                if log_id in self.reject_ids:
                    status = "rejected"
                    results.append(
                        {
                            "index": index,
                            "status": status,
                            "errors": {"metrics": {"overall_confidence": ["bad value"]}},
                        }
                    )
                elif self.stored[log_id]:
                    status = "duplicate"
                    results.append({"index": index, "status": status, "log_id": log_id})
                else:
                    status = "created"
                    self.stored[log_id] += 1
                    self.docs[log_id] = doc
                    results.append({"index": index, "status": status, "log_id": log_id, "id": 1})
                counts[status] += 1
        return Reply(
            200,
            {**{k: counts[k] for k in ("created", "duplicate", "rejected")}, "results": results},
        )

    # -- helpers for tests --------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(min(remaining, 0.05))
        return True

    def batch_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith("/api/v1/logs/batch")]


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's environment or another test's client."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOG_PII_SALT", "test-salt")
    # The guard warns once a minute: another test's internal error must not silence this one's.
    monkeypatch.setattr(guard_module, "_last_warning", 0.0)
    config_module.set_config(None)
    client_module._default = None
    client_module._disabled_logged = False
    yield
    shipper.shutdown(0)
    config_module.set_config(None)
    client_module._default = None


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    fake = FakeCollector()
    yield fake
    fake.stop()


def fast_config(url: str | None, **overrides: Any) -> Config:
    """A configuration with tiny delays, so retries take milliseconds."""
    values: dict[str, Any] = {
        "collector_url": url,
        "api_key": API_KEY,
        "client_id": CLIENT_ID,
        "pii_salt": "test-salt",
        "backoff_base": 0.001,
        "backoff_max": 0.01,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "flush_interval": 0.05,
    }
    values.update(overrides)
    return Config(**values)


MakeClient = Callable[..., Client]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    clients: list[Client] = []

    def make(url: str | None, **overrides: Any) -> Client:
        client = Client(fast_config(url, **overrides))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(0)
