"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread.

It records every request (path, headers, raw body) and answers from a script of
(status, body, delay, trickle) tuples, then 200 once the script is used up. ``delay``
waits before answering; ``trickle`` sends the whole answer (status line included) one
byte every ``trickle`` seconds, as a slow or hostile receiver would.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    host: str
    port: int
    scheme: str = "http"
    answers: list[tuple[int, bytes, float, float]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str = "/hook", *, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def answer(
        self, status: int, body: bytes = b"", delay: float = 0.0, trickle: float = 0.0
    ) -> None:
        self.answers.append((status, body, delay, trickle))


@contextmanager
def receiver(*, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A receiver; with ``tls`` (a server context), an https one."""
    state = Receiver(host="127.0.0.1", port=0, scheme="https" if tls else "http")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with lock:
                state.requests.append(Received("POST", self.path, dict(self.headers.items()), body))
                status, answer, delay, trickle = (
                    state.answers.pop(0) if state.answers else (200, b"", 0, 0)
                )
            if delay:
                time.sleep(delay)
            if trickle:
                self.wfile.flush()
                self._trickle(status, answer, every=trickle)
                return
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def _trickle(self, status: int, answer: bytes, *, every: float) -> None:
            head = f"HTTP/1.1 {status} OK\r\nX-Pad: {'a' * 40}\r\n"
            head += f"Content-Length: {len(answer)}\r\n\r\n"
            self.close_connection = True
            try:
                for byte in head.encode() + answer:
                    self.connection.sendall(bytes([byte]))
                    time.sleep(every)
            except OSError:
                pass  # the client gave up, as it should

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that timed out and left is what some tests do on purpose

    server = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
