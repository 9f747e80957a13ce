"""The production server configuration (gunicorn.conf.py and its worker), tested live.

Each test starts the real gunicorn on a free port against this run's test database and
speaks HTTP to it over real sockets: slow and idle clients must not hold the threads that
serve everyone else, and gunicorn's own errors on API paths answer the API's JSON shape.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from collector.tests.factories import ApiKeyFactory
from flusso_site.tests.live_gunicorn import (
    LiveServer,
    gunicorn_server,
    raw_exchange,
    read_response,
    timed_get,
)

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 2
THREADS = 2
# Three slow connections for every thread the server has.
SLOW_CLIENTS = 3 * WORKERS * THREADS
# How fast the health check must answer while slow clients hold their connections: half
# the server's shortest read deadline (10 s), so only a server that keeps its threads free
# of slow clients meets it (one whose threads wait on them answers when the deadline frees
# them, or never), with room for a loaded 2-core machine (it usually takes milliseconds;
# 4.4 s was seen once with five test suites running beside it).
PROMPT_SECONDS = 5.0


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with gunicorn_server(tmp_path, workers=WORKERS, threads=THREADS) as live:
        yield live


@contextlib.contextmanager
def slow_clients(server: LiveServer, first_bytes: bytes, count: int) -> Iterator[None]:
    """``count`` connections that each send ``first_bytes`` and then nothing more."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = server.connect()
            sock.sendall(first_bytes)
            sockets.append(sock)
        time.sleep(0.5)  # the server has accepted and started reading every one of them
        yield
    finally:
        for sock in sockets:
            sock.close()


# The start of a request that posts one log.
LOG_POST = b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def _assert_health_prompt(server: LiveServer) -> None:
    for _ in range(3):
        seconds, response = timed_get(f"{server.url}/api/v1/health", timeout=9)
        assert response is not None and response.status_code == 200, "health check timed out"
        assert seconds < PROMPT_SECONDS, f"health check took {seconds:.2f} s"
        time.sleep(0.3)


def test_half_sent_headers_do_not_hold_the_threads_the_health_check_needs(server):
    half_header = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"
    with slow_clients(server, half_header, SLOW_CLIENTS):
        _assert_health_prompt(server)


def test_half_sent_bodies_do_not_hold_the_threads_the_health_check_needs(server):
    """With a valid key, so the application reads the body (a 401 would not)."""
    key = ApiKeyFactory().raw_key
    half_body = (
        LOG_POST + b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Length: 1000\r\n\r\n" + b'{"ticket_id": "'
    )
    with slow_clients(server, half_body, SLOW_CLIENTS):
        _assert_health_prompt(server)


def test_a_body_trickled_slower_than_a_byte_a_second_does_not_hold_a_thread(server):
    key = ApiKeyFactory().raw_key
    head = LOG_POST + b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100\r\n\r\n"
    with slow_clients(server, head, SLOW_CLIENTS):
        # Each slow client has sent its headers and no body at all; now one byte each.
        _assert_health_prompt(server)


def _response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ")[1]), headers, body


def _last_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The final answer, after any 100 Continue."""
    while raw.startswith(b"HTTP/1.1 100"):
        raw = raw.partition(b"\r\n\r\n")[2]
    return _response(raw)


def _json_error(raw: bytes) -> tuple[int, dict]:
    status, headers, body = _last_response(raw)
    assert headers["content-type"] == "application/json", raw
    document = json.loads(body)
    assert set(document) == {"error"} and set(document["error"]) == {"code", "message", "fields"}
    return status, document


def _log(ticket: str) -> bytes:
    return json.dumps(
        {"ticket_id": ticket, "status": "SUCCESS", "timestamp": "2026-11-30T09:00:00Z"}
    ).encode()


def test_complete_requests_are_served_on_kept_alive_and_pipelined_connections(server):
    key = ApiKeyFactory().raw_key.encode()
    with server.connect() as sock:
        for ticket in ("T-1", "T-2"):  # one kept-alive connection, two requests
            body = _log(ticket)
            sock.sendall(
                LOG_POST + b"Authorization: Bearer " + key + b"\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            answer = read_response(sock)
            assert answer.startswith(b"HTTP/1.1 201"), answer
    pipelined = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2
    pipelined += b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    answers = raw_exchange(server, pipelined)
    assert answers.count(b"HTTP/1.1 200 OK") == 3, answers


def test_a_large_batch_and_a_slowly_sent_chunked_body_are_read_whole(server):
    key = ApiKeyFactory().raw_key
    batch = {
        "logs": [json.loads(_log(f"T-{n}")) | {"trace": {"x": "y" * 20000}} for n in range(100)]
    }
    response = requests.post(
        f"{server.url}/api/v1/logs/batch",
        json=batch,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200 and response.json()["created"] == 100, response.text

    body = _log("T-chunked")
    with server.connect() as sock:
        sock.sendall(
            LOG_POST
            + b"Authorization: Bearer "
            + key.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for piece in (body[:10], body[10:]):
            time.sleep(0.3)
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        answer = read_response(sock)
    # Whatever the application makes of a chunked body, it answers once the body is whole.
    status, _ = _json_error(answer) if not answer.startswith(b"HTTP/1.1 2") else (201, None)
    assert status < 500, answer


def test_a_client_that_expects_100_continue_is_told_to_send_its_body(server):
    key = ApiKeyFactory().raw_key.encode()
    body = _log("T-expect")
    with server.connect() as sock:
        sock.sendall(
            LOG_POST + b"Authorization: Bearer " + key + b"\r\nExpect: 100-continue\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert read_response(sock).startswith(b"HTTP/1.1 201")


def test_a_request_past_its_header_or_body_deadline_answers_408_and_is_closed(tmp_path):
    with gunicorn_server(
        tmp_path, GUNICORN_HEADER_TIMEOUT="1", GUNICORN_BODY_TIMEOUT="1"
    ) as server:
        for partial in (
            b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{",
        ):
            start = time.monotonic()
            answer = raw_exchange(server, partial, timeout=10)
            seconds = time.monotonic() - start
            status, document = _json_error(answer)
            assert status == 408 and document["error"]["code"] == "request_timeout"
            assert 0.9 < seconds < 4, seconds  # the connection was closed, not left open
        # Outside the API, the same answer as an HTML page.
        answer = raw_exchange(
            server, b"GET /dashboard/ HTTP/1.1\r\nHost: 127.0.0.1\r\n", timeout=10
        )
        assert answer.startswith(b"HTTP/1.1 408") and b"text/html" in answer


def test_a_body_larger_than_the_server_reads_is_refused_before_it_is_sent(server):
    answer = raw_exchange(
        server,
        b"POST /api/v1/logs/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999\r\n\r\n",
    )
    status, document = _json_error(answer)
    assert status == 413 and document["error"]["code"] == "payload_too_large"


def test_a_full_request_buffer_refuses_with_503_and_retry_after_and_health_still_answers(
    tmp_path,
):
    with (
        gunicorn_server(tmp_path, GUNICORN_BUFFER_BYTES="65536") as server,
        server.connect() as hog,
    ):
        hog.sendall(
            b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200000\r\n\r\n"
            + b"x" * 100000
        )
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := hog.recv(65536):
                answer += chunk
        status, document = _json_error(answer)
        assert status == 503 and document["error"]["code"] == "server_busy"
        assert _response(answer)[1]["retry-after"] == "1"
        _assert_health_prompt(server)


# A small pool and body limit, so that filling them takes little time: 4 MiB a worker,
# 1 MiB bodies (each peer may then hold 1 MiB and 64 KiB; bodies may use 3 MiB).
SMALL_POOL = 4 * 1024 * 1024
SMALL_POOL_ENV = {
    "GUNICORN_BUFFER_BYTES": str(SMALL_POOL),
    "GUNICORN_MAX_BODY_BYTES": "1048576",
    # The test's clients are not the operator's proxies (the default trusts 127.0.0.1,
    # whose bytes then have no share of their own: every client behind a proxy is one).
    "FORWARDED_ALLOW_IPS": "192.0.2.1",
}


def _fill_head(declared: int) -> bytes:
    return (
        b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Length: " + str(declared).encode() + b"\r\n\r\n"
    )


@contextlib.contextmanager
def _fill(server: LiveServer, peers: list[str], total: int) -> Iterator[list[bytes]]:
    """One connection from each of ``peers`` (local addresses), together sending ``total``
    bytes of requests whose bodies never finish: the reviewer's reproduction, which filled
    a worker's whole buffer to 10 bytes short. Yields what each connection was answered."""
    head = _fill_head(1_048_000)  # more than any connection sends
    share = total // len(peers)
    sockets = []
    try:
        for number, peer in enumerate(peers):
            sock = socket.create_connection((server.host, server.port), 5, (peer, 0))
            size = share if number < len(peers) - 1 else total - share * number
            with contextlib.suppress(OSError):
                sock.sendall(head + b"a" * (size - len(head)))
            sockets.append(sock)
            time.sleep(0.1)
        time.sleep(0.5)  # the worker has read what it will of every one
        answers = []
        for sock in sockets:
            sock.settimeout(0.2)
            answer = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    answer += chunk
            answers.append(answer)
        yield answers
    finally:
        for sock in sockets:
            sock.close()


def _refused_busy(answers: list[bytes]) -> int:
    busy = 0
    for answer in answers:
        if answer:
            status, document = _json_error(answer)
            assert (status, document["error"]["code"]) == (503, "server_busy"), answer
            busy += 1
    return busy


def test_one_peer_filling_the_buffer_from_several_connections_leaves_health_answering(
    tmp_path,
):
    """Five connections of one address try to fill the worker's whole buffer with bodies
    they never finish: past its share, the peer's bodies are refused (503), and health
    checks, from that same address too, answer 200 at once."""
    with gunicorn_server(tmp_path, **SMALL_POOL_ENV) as server:
        peers = ["127.0.0.1"] * 5
        with _fill(server, peers, SMALL_POOL - 10) as answers:
            assert _refused_busy(answers) == 4  # its 1 MiB share holds one of them
            _assert_health_prompt(server)


def test_bodies_from_several_peers_leave_room_for_new_requests(tmp_path):
    """Five addresses each within its share: their bodies still may not use the pool's
    reserve, which stays for every request's first bytes (the health check's whole)."""
    with gunicorn_server(tmp_path, **SMALL_POOL_ENV) as server:
        peers = [f"127.0.0.{n}" for n in range(2, 7)]
        with _fill(server, peers, SMALL_POOL - 10) as answers:
            assert _refused_busy(answers) >= 1  # 3 MiB of bodies at most
            _assert_health_prompt(server)


def test_a_request_refused_at_its_first_bytes_answers_json_on_the_api(tmp_path):
    """A request whose very first bytes find the buffer full (no path read yet) is answered
    from those bytes: the API's JSON 503, not an HTML page."""
    with (
        gunicorn_server(tmp_path, GUNICORN_BUFFER_BYTES="65536") as server,
        server.connect() as hog,
    ):
        head = _fill_head(100_000)
        hog.sendall(head + b"a" * (65536 - 10 - len(head)))
        time.sleep(0.5)
        answer = raw_exchange(
            server, _fill_head(2).replace(b"/api/v1/logs", b"/api/v1/logs/batch") + b"{}"
        )
        status, document = _json_error(answer)
        assert (status, document["error"]["code"]) == (503, "server_busy")
        assert _response(answer)[1]["retry-after"] == "1"
        # Outside the API, the same refusal is the HTML page.
        answer = raw_exchange(server, b"GET /dashboard/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503") and b"text/html" in answer


def test_a_long_chunk_extension_is_refused_before_megabytes_are_sent(server):
    """The reviewer's trick, 1-byte chunks behind 8000-byte extensions, would buffer 16 MB
    for 2 KB of body: the first such chunk line is refused (400) on its own."""
    with server.connect() as sock:
        sock.sendall(
            b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n1;" + b"a" * 8000
        )
        answer = read_response(sock)
    status, document = _json_error(answer)
    assert (status, document["error"]["code"]) == (400, "bad_request")


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        pytest.param(
            b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 12abc\r\n\r\n{}",
            400,
            "bad_request",
            id="malformed Content-Length",
        ),
        pytest.param(
            b"POST /api/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
            b"Content-Length: 3\r\n\r\n{}",
            400,
            "bad_request",
            id="two Content-Lengths",
        ),
        pytest.param(
            b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: "
            + b"a" * 9000
            + b"\r\n\r\n",
            431,
            "headers_too_large",
            id="header longer than limit_request_field_size",
        ),
        pytest.param(
            b"GET /api/v1/health?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            414,
            "request_line_too_long",
            id="request line longer than limit_request_line",
        ),
        pytest.param(
            b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"X-Many: 1\r\n" * 101
            + b"\r\n",
            431,
            "headers_too_large",
            id="more headers than limit_request_fields",
        ),
        pytest.param(
            b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Key sk_live_SECRET: 1\r\n\r\n",
            400,
            "bad_request",
            id="invalid header name",
        ),
    ],
)
def test_gunicorns_own_errors_on_api_paths_answer_the_json_error_shape(
    server, request_bytes, status, code
):
    answer = raw_exchange(server, request_bytes)
    got_status, document = _json_error(answer)
    assert (got_status, document["error"]["code"]) == (status, code), answer
    assert b"sk_live_SECRET" not in answer and b"12abc" not in answer  # no input echoed


def test_a_header_block_that_never_ends_is_refused_once_it_passes_the_limits(server):
    """gunicorn's parser would have blocked a thread waiting for the rest: here the event
    loop refuses it (431) as soon as it is longer than any header block may be."""
    endless = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-A: b\r\n" * 120_000
    with server.connect() as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(endless)
        answer = read_response(sock)
    status, document = _json_error(answer)
    assert status == 431 and document["error"]["code"] == "headers_too_large"


def test_gunicorns_own_errors_outside_the_api_stay_html(server):
    answer = raw_exchange(
        server, b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n"
    )
    status, headers, _ = _response(answer)
    assert status == 400 and headers["content-type"] == "text/html"
