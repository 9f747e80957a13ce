"""gunicorn's threaded worker, changed so that slow clients cannot hold its threads.

gunicorn 27's ``gthread`` worker gives a connection to a thread as soon as its first bytes
arrive; the thread then reads the request line, the headers and the body with blocking
reads that have no deadline. A few clients that send half a header block, or a body a byte
at a time, held every thread of every worker, and the health check waited with everyone
else. gunicorn has no setting for it (its ``timeout`` only notices a worker whose main
loop is stuck, and a gthread worker's main loop never is).

``BufferingThreadWorker`` reads every request, headers and body, in the worker's event
loop with non-blocking reads, and gives it to a thread only once it is complete, as a
buffering proxy does. Reading is bounded in time and in memory:

- the request line and headers must arrive within ``GUNICORN_HEADER_TIMEOUT`` seconds of
  the connection (or of a kept-alive connection's next request) starting to send;
- the body within ``GUNICORN_BODY_TIMEOUT`` seconds plus its length at
  ``GUNICORN_BODY_MIN_RATE`` bytes a second;
- a body longer than ``GUNICORN_MAX_BODY_BYTES`` is refused (413) before it is read; a
  chunked body's framing (size lines, extensions) counts against that limit, and a chunk
  size line longer than ``MAX_CHUNK_LINE`` bytes is refused (400) at once, so one
  request buffers at most its head plus ``GUNICORN_MAX_BODY_BYTES``;
- one worker buffers at most ``GUNICORN_BUFFER_BYTES`` (64 MiB) for requests still
  arriving, shared so that a few hostile connections cannot starve the rest (``BufferPool``):

  * the first ``HEAD_ALLOWANCE`` (64 KiB) bytes of every request, which hold the head
    of nearly all of them and the whole of a health check, may use the whole pool;
  * the bytes past that (large bodies) may not use the last
    ``GUNICORN_BUFFER_RESERVE_BYTES`` (a quarter of the pool), so bodies alone never fill
    it and new requests can always start;
  * one peer (an IPv4 address or an IPv6 /64) may buffer bodies only while all it
    buffers stays within ``GUNICORN_BUFFER_PEER_BYTES`` (a quarter of the pool, at least
    one largest request): a peer past it can still start requests, health checks
    included, but buffers no more body bytes.

  A request that would break one of these is refused with 503 and Retry-After. Behind a
  proxy every request comes from the proxy's address, so the operator's proxies
  (``FORWARDED_ALLOW_IPS``) have no share of their own, only the pool and its reserve;
  the proxy must buffer bodies and bound its clients.
  The memory a host may spend is ``WEB_CONCURRENCY`` times ``GUNICORN_BUFFER_BYTES``.

Past a deadline the client gets 408 and the connection closes. Threads then read only
memory; as a backstop for what they still read from the socket (a request this loop does
not understand, left for gunicorn's parser to refuse, or a response the client does not
read), every socket read or write in a thread times out after ``GUNICORN_SOCKET_TIMEOUT``
seconds. The request line and header limits stay gunicorn's (``limit_request_*``).

gunicorn's own errors (a malformed request line or header, a bad Content-Length, headers
too large) answer the API's JSON error shape on ``/api/`` paths instead of gunicorn's
HTML page, with the same status, and never echo what the client sent.

With TLS in gunicorn itself, HTTP/2, the PROXY protocol or uWSGI, the worker behaves as
``gthread`` does (TLS terminates at the front proxy in our deployments; see README).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import ipaddress
import json
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from gunicorn.http.message import DEFAULT_MAX_HEADERFIELD_SIZE, MAX_HEADERS
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from flusso_site.env import env_int

API_PREFIX = "/api/"
# A refused connection is read and discarded this long after the answer was sent before
# it is closed: closing with unread bytes makes the kernel reset the connection, and the
# client may lose the answer.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 256 * 1024
# Deadlines are checked at most this often (and whenever the event loop wakes, at least
# once a second).
DEADLINE_CHECK_SECONDS = 0.25
RECV_BYTES = 64 * 1024
# Largest read of a body whose length is known. Every recv() releases and retakes the GIL,
# which can take 5 ms while threads run Python: 64 KiB reads slowed a 10 MiB body to
# seconds (gunicorn's own body reads are bounded the same way).
RECV_BODY_BYTES = 1024 * 1024
# Seconds a client is asked to wait when the worker's buffer is full.
BUSY_RETRY_AFTER_SECONDS = 1
# The first bytes of every request, which only the whole pool bounds: a health check or
# an API call with its head (a few hundred bytes to a few KiB) fits many times over.
HEAD_ALLOWANCE = 64 * 1024
# Longest chunk size line (hex size plus extensions) read: nothing we serve uses chunk
# extensions and no client we know sends them; gunicorn's own bound (the header field
# size, 8190) let a 1-byte chunk cost 8 KB of buffer.
MAX_CHUNK_LINE = 256

_HEX = frozenset(b"0123456789abcdefABCDEF")

# The answers this server gives itself, on API paths: stable codes, no client input.
_API_ERRORS = {
    400: (
        "bad_request",
        "The request could not be read: malformed request line, headers or chunked body.",
    ),
    403: ("forbidden", "The request is forbidden."),
    408: ("request_timeout", "The request did not arrive in time; send it again."),
    413: ("payload_too_large", "The request body is larger than the server accepts."),
    414: ("request_line_too_long", "The request line is longer than the server accepts."),
    417: ("expectation_failed", "The Expect header is not supported."),
    431: ("headers_too_large", "The request headers are larger than the server accepts."),
    500: ("server_error", "The server failed; the request was not stored."),
    501: ("not_implemented", "The request's Transfer-Encoding is not supported."),
    503: ("server_busy", "The server is busy; retry after Retry-After seconds."),
}
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def error_response(status: int, target: str) -> bytes:
    """A complete ``Connection: close`` response for ``status``: the API's JSON error shape
    on API paths, a short HTML page elsewhere (what gunicorn answers)."""
    from flusso_site.errors import error_body  # Django is loaded by then (preload_app)

    reason = _REASONS.get(status, "Error")
    headers = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    if target.startswith(API_PREFIX):
        code, message = _API_ERRORS.get(status, (f"http_{status}", reason))
        body = json.dumps(error_body(code, message)).encode()
        headers.append("Content-Type: application/json")
    else:
        body = f"<html><head><title>{reason}</title></head><body><h1>{reason}</h1></body></html>"
        body = body.encode()
        headers.append("Content-Type: text/html")
    if status == 503:
        headers.append(f"Retry-After: {BUSY_RETRY_AFTER_SECONDS}")
    headers.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class ReadLimits:
    """How long and how much this worker reads for one request (see the module docstring)."""

    header_timeout: float = 10
    body_timeout: float = 10
    body_min_rate: int = 256 * 1024
    # Above INGEST_MAX_BATCH_BYTES (10 MiB), so the application's own 413 stays the
    # precise one for the API.
    max_body: int = 16 * 1024 * 1024
    # 64 MiB a worker, two workers a core: 256 MiB on a 2-core machine.
    buffer_bytes: int = 64 * 1024 * 1024
    # 0: a quarter of buffer_bytes.
    buffer_reserve: int = 0
    # 0: a quarter of buffer_bytes, and at least one largest request.
    buffer_per_peer: int = 0
    socket_timeout: float = 10

    @property
    def reserve_bytes(self) -> int:
        return self.buffer_reserve or self.buffer_bytes // 4

    @property
    def peer_bytes(self) -> int:
        return self.buffer_per_peer or max(self.buffer_bytes // 4, self.max_body + HEAD_ALLOWANCE)

    @classmethod
    def from_environment(cls) -> ReadLimits:
        default = cls()
        limits = cls(
            header_timeout=env_int(
                "GUNICORN_HEADER_TIMEOUT", int(default.header_timeout), minimum=1
            ),
            body_timeout=env_int("GUNICORN_BODY_TIMEOUT", int(default.body_timeout), minimum=1),
            body_min_rate=env_int("GUNICORN_BODY_MIN_RATE", default.body_min_rate, minimum=1),
            max_body=env_int("GUNICORN_MAX_BODY_BYTES", default.max_body, minimum=1024),
            buffer_bytes=env_int("GUNICORN_BUFFER_BYTES", default.buffer_bytes, minimum=65536),
            buffer_reserve=env_int("GUNICORN_BUFFER_RESERVE_BYTES", 0, minimum=0),
            buffer_per_peer=env_int("GUNICORN_BUFFER_PEER_BYTES", 0, minimum=0),
            socket_timeout=env_int(
                "GUNICORN_SOCKET_TIMEOUT", int(default.socket_timeout), minimum=1
            ),
        )
        if limits.reserve_bytes >= limits.buffer_bytes:
            raise ImproperlyConfigured(
                "GUNICORN_BUFFER_RESERVE_BYTES must be less than GUNICORN_BUFFER_BYTES."
            )
        return limits


def peer_of(client: Any) -> str:
    """Whom a connection's bytes are counted against: its IPv4 address, or its IPv6 /64
    (one host commonly holds a whole /64); a Unix socket's clients are one peer."""
    host = client[0] if isinstance(client, tuple) and client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return str(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class BufferPool:
    """The bytes one worker holds for requests still arriving (see the module docstring).

    Each request's bytes are counted as they arrive (``take``) and given back at once when
    it leaves the buffering state (``give_back``); the request's own size is its
    ``PendingRequest.buf``, so only the totals live here."""

    def __init__(
        self,
        *,
        capacity: int,
        reserve: int,
        per_peer: int,
        proxies: tuple[str, ...] = (),
    ) -> None:
        self.capacity = capacity
        # Bytes past a request's HEAD_ALLOWANCE may use this much of the pool.
        self.bulk_capacity = capacity - reserve
        self.per_peer = per_peer
        # The operator's proxies (FORWARDED_ALLOW_IPS): every client behind one shares its
        # address, so a share per address would be one share for all of them. Their bytes
        # are bounded by the pool and its reserve only (the proxy buffers bodies itself).
        self.proxies = tuple(ipaddress.ip_network(p, strict=False) for p in proxies if p != "*")
        self.any_proxy = "*" in proxies
        self.used = 0
        self.bulk = 0
        self.peers: dict[str, int] = {}

    @classmethod
    def from_limits(cls, limits: ReadLimits, *, proxies: tuple[str, ...] = ()) -> BufferPool:
        return cls(
            capacity=limits.buffer_bytes,
            reserve=limits.reserve_bytes,
            per_peer=limits.peer_bytes,
            proxies=proxies,
        )

    def is_proxy(self, peer: str) -> bool:
        if self.any_proxy:
            return True
        try:
            network = ipaddress.ip_network(peer, strict=False)
        except ValueError:
            return False
        return any(network.subnet_of(p) for p in self.proxies if p.version == network.version)

    def take(self, *, peer: str, held: int, size: int) -> bool:
        """Whether a request from ``peer`` that holds ``held`` bytes may buffer ``size``
        more; if it may, they are counted."""
        bulk = max(held + size - max(held, HEAD_ALLOWANCE), 0)
        if self.used + size > self.capacity:
            return False
        if bulk and (
            self.bulk + bulk > self.bulk_capacity
            or (self.peers.get(peer, 0) + size > self.per_peer and not self.is_proxy(peer))
        ):
            return False
        self.used += size
        self.bulk += bulk
        self.peers[peer] = self.peers.get(peer, 0) + size
        return True

    def give_back(self, *, peer: str, held: int) -> None:
        """A request that held ``held`` bytes has left (whole, refused or gone)."""
        self.used -= held
        self.bulk -= max(held - HEAD_ALLOWANCE, 0)
        left = self.peers.get(peer, 0) - held
        if left > 0:
            self.peers[peer] = left
        else:
            self.peers.pop(peer, None)


@dataclass(frozen=True)
class FramingLimits:
    """gunicorn's own parser limits, as this reader must know them."""

    request_line: int  # 0: unlimited
    header_block: int
    body: int

    @classmethod
    def from_config(cls, cfg: Any, *, max_body: int) -> FramingLimits:
        # The same defaults gunicorn's Message applies to out-of-range settings.
        fields = cfg.limit_request_fields
        if fields <= 0 or fields > MAX_HEADERS:
            fields = MAX_HEADERS
        field_size = cfg.limit_request_field_size
        if field_size <= 0:
            field_size = DEFAULT_MAX_HEADERFIELD_SIZE
        return cls(
            request_line=max(cfg.limit_request_line, 0),
            header_block=fields * (field_size + 2) + 4,
            body=max_body,
        )


class Verdict(enum.Enum):
    MORE = "more"  # wait for more bytes
    # Hand the bytes to gunicorn's parser: the request is complete, or it is malformed in
    # a way the parser will refuse from the bytes it gets (and answer 400, 414, 501...).
    READY = "ready"
    HEADERS_TOO_LARGE = "headers too large"
    BODY_TOO_LARGE = "body too large"  # framing of a chunked body included
    BAD_CHUNK = "chunk size line too long"


class PendingRequest:
    """One request's bytes as they arrive, and whether they make a whole request yet.

    Each byte is looked at a bounded number of times whatever the client's pace, so a
    trickle of tiny reads costs the event loop no more than one large read."""

    def __init__(self, limits: FramingLimits, data: bytes = b"") -> None:
        self.limits = limits
        self.buf = bytearray(data)
        self.target = ""
        self.head_end: int | None = None
        self.expects_continue = False
        self._scanned = 0
        self._length: int | None = None
        self._chunk_at = 0

    @property
    def body_expected(self) -> int:
        """The body bytes the deadline allows for (a chunked body may be the largest)."""
        return self._length if self._length is not None else self.limits.body

    @property
    def body_missing(self) -> int:
        """Body bytes still to come, when the length is known (0 otherwise)."""
        if self.head_end is None or self._length is None:
            return 0
        return max(self.head_end + self._length - len(self.buf), 0)

    def feed(self, data: bytes) -> Verdict:
        self.buf += data
        return self.scan()

    def scan(self) -> Verdict:
        if self.head_end is None:
            verdict = self._scan_head()
            if verdict is not None:
                return verdict
        if self._length is not None:
            complete = len(self.buf) - (self.head_end or 0) >= self._length
            return Verdict.READY if complete else Verdict.MORE
        return self._scan_chunks()

    def _scan_head(self) -> Verdict | None:
        buf = self.buf
        if not self.target:
            self.target = _request_target(buf)
        end = buf.find(b"\r\n\r\n", max(self._scanned - 3, 0))
        # A bare LF in the head ends no line for gunicorn's parser, which refuses the
        # request at once. Only the head is searched: a body's own line breaks (which
        # may arrive in the same packet) say nothing about the request's framing.
        head_limit = end + 2 if end >= 0 else len(buf)
        newline = buf.find(b"\n", self._scanned, head_limit)
        while newline >= 0:
            if newline == 0 or buf[newline - 1] != 0x0D:
                return Verdict.READY
            newline = buf.find(b"\n", newline + 1, head_limit)
        self._scanned = len(buf)
        limits = self.limits
        if end < 0:
            line_start = 2 if buf.startswith(b"\r\n") else 0
            line_open = buf.find(b"\r\n", line_start) < 0
            if line_open and 0 < limits.request_line < len(buf) - line_start - 2:
                return Verdict.READY  # the parser answers 414 from these bytes
            if len(buf) > limits.request_line + limits.header_block + 4:
                return Verdict.HEADERS_TOO_LARGE
            return Verdict.MORE
        self.head_end = end + 4
        return self._framing(bytes(buf[:end]))

    def _framing(self, head: bytes) -> Verdict | None:
        """How the body is delimited, as gunicorn's parser will see it; READY whenever the
        parser will refuse the request anyway (it does so without reading the body)."""
        lines = head.split(b"\r\n")
        if lines and lines[0] == b"":
            lines = lines[1:]  # one empty line may precede the request line
        parts = lines[0].split(b" ") if lines else []
        if len(parts) != 3:
            return Verdict.READY
        version = parts[2]
        lengths: list[bytes] = []
        codings: list[bytes] = []
        expect = False
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or line[:1] in (b" ", b"\t"):
                return Verdict.READY
            name = name.lower()
            value = value.strip(b" \t")
            if name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                codings += [coding.strip(b" \t").lower() for coding in value.split(b",")]
            elif name == b"expect":
                expect = value.lower() == b"100-continue"
        if codings:
            if lengths or codings[-1] != b"chunked" or version != b"HTTP/1.1":
                return Verdict.READY
            self._chunk_at = self.head_end or 0
        elif lengths:
            if len(lengths) > 1 or not lengths[0].isdigit():
                return Verdict.READY
            if len(lengths[0]) > 18 or int(lengths[0]) > self.limits.body:
                return Verdict.BODY_TOO_LARGE
            self._length = int(lengths[0])
        else:
            self._length = 0
        self.expects_continue = expect and version == b"HTTP/1.1" and self._length != 0
        return None

    def _scan_chunks(self) -> Verdict:
        buf = self.buf
        limits = self.limits
        position = self._chunk_at
        body_start = self.head_end or 0
        while True:
            line_end = buf.find(b"\r\n", position, position + MAX_CHUNK_LINE + 2)
            if line_end < 0:
                too_long = len(buf) - position > MAX_CHUNK_LINE + 1
                return Verdict.BAD_CHUNK if too_long else Verdict.MORE
            size_field = bytes(buf[position:line_end]).split(b";", 1)[0].rstrip(b" \t")
            if not size_field or len(size_field) > 16 or not _HEX.issuperset(size_field):
                return Verdict.READY
            size = int(size_field, 16)
            if size == 0:
                # Then the trailer section, ended by an empty line.
                if buf.find(b"\r\n\r\n", line_end) >= 0:
                    return Verdict.READY
                too_long = len(buf) - line_end > limits.header_block
                return Verdict.READY if too_long else Verdict.MORE
            data_end = line_end + 2 + size
            # What the body costs to buffer is its bytes on the wire, framing included.
            if data_end + 2 - body_start > limits.body:
                return Verdict.BODY_TOO_LARGE
            if len(buf) < data_end + 2:
                return Verdict.MORE
            if buf[data_end : data_end + 2] != b"\r\n":
                return Verdict.READY
            position = self._chunk_at = data_end + 2


def _request_target(buf: bytearray) -> str:
    """The request target (path and query) from the request line, once it has arrived."""
    start = 2 if buf.startswith(b"\r\n") else 0
    space = buf.find(b" ", start)
    if space < 0:
        return ""
    target_end = buf.find(b" ", space + 1)
    line_end = buf.find(b"\r\n", space + 1)
    if target_end < 0:
        # The request line is still arriving; an over-long one is judged by its start.
        return bytes(buf[space + 1 : space + 1 + len(API_PREFIX)]).decode("latin-1")
    if 0 <= line_end < target_end:
        return ""
    return bytes(buf[space + 1 : target_end]).decode("latin-1")


class PrefixedSocketUnreader(SocketUnreader):
    """gunicorn's socket reader, serving the bytes the event loop already read first, in
    the pieces a socket read would give. (Handing them to ``unread()`` instead made every
    64 KiB read of a body copy all that was left of it: quadratic in the body.)"""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.prefix = memoryview(b"")

    def give(self, data: bytes) -> None:
        self.prefix = memoryview(bytes(self.prefix) + data if self.prefix else data)

    def chunk(self, size_hint: int | None = None) -> bytes:
        if not self.prefix:
            return super().chunk(size_hint)
        size = self.mxchunk
        if size_hint and size_hint > size:
            size = min(size_hint, self.max_body_chunk)
        piece, self.prefix = self.prefix[:size], self.prefix[size:]
        return bytes(piece)

    def settle(self) -> None:
        """Between requests: what is left (a pipelined request) goes where gthread looks
        for read-ahead bytes, after any the parser put back."""
        if self.prefix:
            self.unread_after(bytes(self.prefix))
            self.prefix = memoryview(b"")

    def unread_after(self, data: bytes) -> None:
        self.buf.seek(0, 2)
        self.buf.write(data)


class BufferingConn(TConn):
    """gunicorn's connection, with the request being buffered and a socket timeout for
    everything a thread reads or writes."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any, *, limits):
        super().__init__(cfg, sock, client, server)
        self.socket_timeout: float = limits.socket_timeout
        self.peer = peer_of(client)
        self.pending: PendingRequest | None = None
        self.deadline = 0.0
        self.target = ""
        # Whether the request a thread is serving was read whole by the event loop.
        self.buffered = False

    def init(self) -> None:
        # gunicorn's thread calls init() right after making the socket blocking, for
        # every request of the connection.
        super().init()
        self.sock.settimeout(self.socket_timeout)


class BufferingThreadWorker(ThreadWorker):
    """See the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_limits = ReadLimits.from_environment()
        self.framing_limits = FramingLimits.from_config(
            self.cfg, max_body=self.read_limits.max_body
        )
        # gunicorn's thread reads every request itself in these modes.
        self.buffering = not (
            self.cfg.is_ssl
            or "h2" in (getattr(self.cfg, "http_protocols", None) or [])
            or getattr(self.cfg, "proxy_protocol", "off") not in ("off", False, None)
            or getattr(self.cfg, "protocol", "http") != "http"
        )
        self.buffering_conns: set[BufferingConn] = set()
        self.lingering_conns: dict[BufferingConn, float] = {}
        self.pool = BufferPool.from_limits(
            self.read_limits, proxies=tuple(self.cfg.forwarded_allow_ips or ())
        )
        self._next_deadline_check = 0.0
        self._local = threading.local()

    # --- connections arrive -----------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        # gthread's accept(), making our connection type.
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            conn = BufferingConn(
                self.cfg, client_sock, client_addr, listener.getsockname(), limits=self.read_limits
            )
            self.enqueue_req(conn)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise

    def enqueue_req(self, conn: BufferingConn) -> None:  # type: ignore[override]
        """gthread calls this for a new connection, for a kept-alive connection that has
        become readable and for one that already holds its next request's first bytes:
        each starts a new request, which is read here before a thread gets it."""
        if not self.buffering or not isinstance(conn, BufferingConn):
            super().enqueue_req(conn)
            return
        held = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        conn.pending = PendingRequest(self.framing_limits)
        conn.deadline = time.monotonic() + self.read_limits.header_timeout
        conn.sock.setblocking(False)
        self.buffering_conns.add(conn)
        if held and self._take(conn, held) and self._advance(conn, held):
            return
        if conn.pending is None:  # refused
            return

        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))

    def _readable(self, conn: BufferingConn, _sock: socket.socket) -> None:
        pending = conn.pending
        assert pending is not None
        try:
            data = conn.sock.recv(min(max(pending.body_missing, RECV_BYTES), RECV_BODY_BYTES))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._close(conn)
            return
        if self._take(conn, data):
            self._advance(conn, data)

    def _take(self, conn: BufferingConn, data: bytes) -> bool:
        """Count ``data`` in the pool, or refuse the request (503) when it may not have it."""
        pending = conn.pending
        assert pending is not None
        if self.pool.take(peer=conn.peer, held=len(pending.buf), size=len(data)):
            return True
        if not pending.target:
            # Refused at its first bytes: still the answer its path calls for (JSON on the
            # API), read from what just arrived.
            pending.target = _request_target(pending.buf + data[:RECV_BYTES])
        self.log.warning("Request refused: the worker's request buffer is full.")
        self._refuse(conn, 503)
        return False

    def _advance(self, conn: BufferingConn, data: bytes) -> bool:
        """Add bytes to the request; whether the connection has left the buffering state."""
        pending = conn.pending
        assert pending is not None
        had_head = pending.head_end is not None
        verdict = pending.feed(data)
        if not had_head and pending.head_end is not None:
            limits = self.read_limits
            conn.deadline = (
                time.monotonic()
                + limits.body_timeout
                + pending.body_expected / limits.body_min_rate
            )
        if verdict is Verdict.MORE and pending.expects_continue:
            pending.expects_continue = False
            # The client waits for this before it sends the body (curl does, for large
            # ones); gunicorn's own would come only once the body is here (handle_request).
            with contextlib.suppress(OSError):
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return self._judge(conn, verdict)

    def _judge(self, conn: BufferingConn, verdict: Verdict) -> bool:
        """Act on a verdict; whether the connection has left the buffering state."""
        if verdict is Verdict.MORE:
            return False
        if verdict is Verdict.READY:
            self._dispatch(conn)
        elif verdict is Verdict.HEADERS_TOO_LARGE:
            self._refuse(conn, 431)
        elif verdict is Verdict.BAD_CHUNK:
            self._refuse(conn, 400)
        else:
            self._refuse(conn, 413)
        return True

    def _dispatch(self, conn: BufferingConn) -> None:
        """The request is whole (or gunicorn's parser must refuse it): to a thread."""
        pending = self._forget(conn)
        conn.target = pending.target
        if conn.parser is None:
            conn.init()  # makes the parser; no I/O for plain HTTP/1
            conn.parser.unreader = PrefixedSocketUnreader(conn.sock)
        conn.sock.setblocking(True)
        conn.parser.unreader.give(bytes(pending.buf))
        conn.data_ready = True
        conn.buffered = True
        super().enqueue_req(conn)

    # --- connections leave ------------------------------------------------------------

    def _forget(self, conn: BufferingConn) -> PendingRequest:
        pending = conn.pending
        assert pending is not None
        conn.pending = None
        self.pool.give_back(peer=conn.peer, held=len(pending.buf))
        self.buffering_conns.discard(conn)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        return pending

    def _close(self, conn: BufferingConn) -> None:
        if conn.pending is not None:
            self._forget(conn)
        self.lingering_conns.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn: BufferingConn, status: int) -> None:
        """Answer ``status`` from the event loop, then close without resetting."""
        target = conn.pending.target if conn.pending is not None else conn.target
        self._forget(conn)
        # Never blocking: a client that does not read must not stop the event loop.
        conn.sock.setblocking(False)
        with contextlib.suppress(OSError):
            conn.sock.send(error_response(status, target))
            conn.sock.shutdown(socket.SHUT_WR)
        self.lingering_conns[conn] = time.monotonic() + LINGER_SECONDS
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._discard, conn))

    def _discard(self, conn: BufferingConn, _sock: socket.socket) -> None:
        try:
            data = conn.sock.recv(LINGER_MAX_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)

    def murder_pending(self) -> None:
        """gthread's loop calls this after every wake-up: here the read deadlines too."""
        super().murder_pending()
        now = time.monotonic()
        if now < self._next_deadline_check:
            return
        self._next_deadline_check = now + DEADLINE_CHECK_SECONDS
        for conn in [c for c in self.buffering_conns if c.deadline <= now]:
            self._refuse(conn, 408)
        for conn in [c for c, deadline in self.lingering_conns.items() if deadline <= now]:
            self._close(conn)
        if not self.alive:
            # Stopping: connections that have sent nothing of a request are let go.
            for conn in [c for c in self.buffering_conns if not c.pending.buf]:
                self._close(conn)

    # --- gunicorn's own errors ------------------------------------------------------

    def handle_request(self, req: Any, conn: TConn) -> Any:
        if isinstance(conn, BufferingConn) and conn.buffered:
            # The body is already here (100 Continue was sent when the headers were).
            req._expected_100_continue = False
        return super().handle_request(req, conn)

    def handle(self, conn: TConn) -> Any:
        self._local.conn = conn
        try:
            return super().handle(conn)
        finally:
            self._local.conn = None
            unreader = getattr(conn.parser, "unreader", None)
            if isinstance(unreader, PrefixedSocketUnreader):
                unreader.settle()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn decides the status and logs; on API paths the body is the API's JSON
        error shape instead of gunicorn's HTML page (which also quoted the client's bytes)."""
        conn = getattr(self._local, "conn", None)
        target = getattr(req, "path", None) or getattr(conn, "target", "") or ""
        if not target.startswith(API_PREFIX):
            super().handle_error(req, client, addr, exc)
            return
        captured = _CapturingSocket()
        super().handle_error(req, captured, addr, exc)
        status = captured.status() or 500
        try:
            _write_all(client, error_response(status, target))
        except Exception:
            self.log.debug("Failed to send error message.")


def _write_all(sock: Any, data: bytes) -> None:
    sock.sendall(data)


class _CapturingSocket:
    """Takes the page gunicorn's handle_error writes, to read its status line."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # gunicorn's write_nonblock then writes with sendall() directly

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status(self) -> int | None:
        parts = self.data.split(b" ", 2)
        if len(parts) >= 2 and parts[1].isdigit():
            return int(parts[1])
        return None
