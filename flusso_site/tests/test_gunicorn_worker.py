"""How the worker's event loop decides a request has arrived whole (PendingRequest), without
a server: the same verdict however the bytes are split, and the framing gunicorn's parser
would use (the live behaviour is in test_gunicorn.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from gunicorn.config import Config

from flusso_site.gunicorn_worker import (
    HEAD_ALLOWANCE,
    BufferPool,
    FramingLimits,
    PendingRequest,
    ReadLimits,
    Verdict,
    error_response,
    peer_of,
)

LIMITS = FramingLimits.from_config(Config(), max_body=1024 * 1024)


def _verdict(data: bytes, *, step: int | None = None) -> PendingRequest:
    """Feed ``data`` whole, or ``step`` bytes at a time, as a slow client sends it."""
    pending = PendingRequest(LIMITS)
    pending.verdict = Verdict.MORE  # type: ignore[attr-defined]
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for piece in pieces:
        pending.verdict = pending.feed(piece)  # type: ignore[attr-defined]
        if pending.verdict is not Verdict.MORE:  # type: ignore[attr-defined]
            break
    return pending


HEAD = b"POST /api/v1/logs HTTP/1.1\r\nHost: h\r\n"
COMPLETE = [
    pytest.param(b"GET /api/v1/health HTTP/1.1\r\nHost: h\r\n\r\n", id="no body"),
    pytest.param(HEAD + b"Content-Length: 5\r\n\r\nhello", id="Content-Length"),
    pytest.param(b"\r\n" + HEAD + b"Content-Length: 2\r\n\r\n{}", id="leading empty line"),
    pytest.param(
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n",
        id="chunked",
    ),
    pytest.param(
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n",
        id="chunked with a trailer",
    ),
    pytest.param(
        HEAD + b"Content-Length: 2\r\n\r\n{}GET /next HTTP/1.1\r\n", id="pipelined next request"
    ),
    # A body's own line breaks, arriving with the head, are not a bare LF in the head: the
    # request is read whole, not handed to a thread that would then wait on the client.
    pytest.param(HEAD + b"Content-Length: 5\r\n\r\n{\n}\n\n", id="line breaks in the body"),
    pytest.param(
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\n{\n}\r\n0\r\n\r\n",
        id="line breaks in a chunk",
    ),
]


@pytest.mark.parametrize("data", COMPLETE)
@pytest.mark.parametrize("step", [None, 1, 7])
def test_a_whole_request_is_ready_however_it_is_split(data, step):
    assert _verdict(data, step=step).verdict is Verdict.READY


@pytest.mark.parametrize("data", COMPLETE)
def test_any_prefix_of_a_whole_request_waits_for_more(data):
    end = data.index(b"GET /next") if b"GET /next" in data else len(data)
    for cut in range(end):
        assert _verdict(data[:cut]).verdict is Verdict.MORE, data[:cut]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(HEAD + b"Content-Length: 1x\r\n\r\n", id="malformed Content-Length"),
        pytest.param(HEAD + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", id="two lengths"),
        pytest.param(
            HEAD + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", id="length+chunked"
        ),
        pytest.param(HEAD + b"Transfer-Encoding: gzip\r\n\r\n", id="not ending in chunked"),
        pytest.param(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad chunk size"),
        pytest.param(HEAD + b"Transfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", id="chunk overrun"),
        pytest.param(HEAD + b"X-Folded: a\r\n b\r\n\r\n", id="obsolete line folding"),
        pytest.param(HEAD + b"No colon here\r\n\r\n", id="header without a colon"),
        pytest.param(b"GET /api/v1/health HTTP/1.1\nHost: h\n", id="bare LF"),
        pytest.param(b"GET /" + b"a" * 9000, id="request line past limit_request_line"),
    ],
)
def test_what_gunicorns_parser_refuses_goes_to_it_at_once_without_waiting(data):
    """The parser answers these (400, 414, 501) from the bytes it is given: no thread waits
    for bytes that may never come."""
    assert _verdict(data).verdict is Verdict.READY


def test_a_header_block_past_every_limit_is_refused_without_a_thread():
    endless = HEAD + b"X-A: b\r\n" * 120_000
    assert _verdict(endless, step=65536).verdict is Verdict.HEADERS_TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [
        HEAD + b"Content-Length: 1048577\r\n\r\n",
        HEAD + b"Content-Length: 99999999999999999999999999\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n100001\r\n",
    ],
)
def test_a_body_past_the_maximum_is_refused_before_it_is_read(data):
    assert _verdict(data).verdict is Verdict.BODY_TOO_LARGE


def test_the_body_deadline_allows_for_the_declared_length():
    pending = _verdict(HEAD + b"Content-Length: 5000\r\n\r\n")
    assert pending.verdict is Verdict.MORE and pending.body_expected == 5000
    chunked = _verdict(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    assert chunked.body_expected == LIMITS.body


def test_expect_100_continue_is_noticed_only_where_a_body_is_to_come():
    assert _verdict(HEAD + b"Expect: 100-continue\r\nContent-Length: 9\r\n\r\n").expects_continue
    assert not _verdict(
        HEAD + b"Expect: 100-continue\r\nContent-Length: 0\r\n\r\n"
    ).expects_continue


def test_a_trickled_request_costs_a_bounded_number_of_looks_at_each_byte():
    """A byte at a time, a 200 KB header block takes about as long as sent whole: the
    scan resumes where it stopped instead of starting again (quadratic before)."""
    import time

    data = HEAD + b"X-A: b\r\n" * 25_000 + b"\r\n"
    start = time.perf_counter()
    assert _verdict(data, step=1).verdict is Verdict.READY
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("target", "content_type"),
    [("/api/v1/logs", b"application/json"), ("/dashboard/", b"text/html")],
)
def test_the_servers_own_answers_are_json_on_the_api_and_html_elsewhere(target, content_type):
    answer = error_response(408, target)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"Content-Type: " + content_type in head and b"Connection: close" in head
    assert b"Content-Length: %d" % len(body) in head
    assert b"Retry-After: 1" in error_response(503, target)


def test_a_buffered_body_is_read_in_socket_sized_pieces_and_the_rest_kept_for_next():
    """gunicorn's parser reads what the event loop buffered as it would read the socket:
    its buffer never holds more than one socket read (all of a 16 MiB body made each
    64 KiB read copy the rest of it), and a pipelined request stays for the next turn."""
    import socket

    from gunicorn.http.body import LengthReader

    from flusso_site.gunicorn_worker import PrefixedSocketUnreader

    body = bytes(range(256)) * (16 * 4096)  # 16 MiB
    following = b"GET /api/v1/health HTTP/1.1\r\n\r\n"
    ours, _theirs = socket.socketpair()
    with ours, _theirs:
        unreader = PrefixedSocketUnreader(ours)
        unreader.give(body + following)
        reader = LengthReader(unreader, len(body))
        pieces = []
        while piece := reader.read(65536):
            pieces.append(piece)
            assert len(unreader.buf.getvalue()) <= unreader.max_body_chunk
        assert b"".join(pieces) == body
        unreader.settle()
        assert unreader.take_buffered() == following


# --- chunked bodies: what they cost to buffer ---------------------------------------

CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


def test_a_long_chunk_extension_is_refused_before_the_next_line_arrives():
    """A 1-byte chunk behind 8000 bytes of extension buffered 8 KB for each body byte."""
    assert _verdict(CHUNKED + b"1;" + b"a" * 8000).verdict is Verdict.BAD_CHUNK
    assert _verdict(CHUNKED + b"1;" + b"a" * 8000 + b"\r\nx\r\n").verdict is Verdict.BAD_CHUNK


def test_a_short_chunk_extension_is_still_read():
    data = CHUNKED + b"1;" + b"a" * 200 + b"\r\nx\r\n0\r\n\r\n"
    assert _verdict(data, step=7).verdict is Verdict.READY


def test_chunk_framing_counts_against_the_body_limit():
    """Many small chunks with extensions: their framing, not only their data, is what is
    buffered, and it is what the body limit bounds."""
    chunk = b"1;" + b"a" * 200 + b"\r\nx\r\n"  # 1 byte of data, 208 on the wire
    chunks = LIMITS.body // len(chunk) + 1
    pending = _verdict(CHUNKED + chunk * chunks, step=65536)
    assert pending.verdict is Verdict.BODY_TOO_LARGE
    assert len(pending.buf) - len(CHUNKED) <= LIMITS.body + 65536


def test_a_chunked_body_just_within_the_limit_is_read():
    framing = len(b"0\r\n\r\n") + len(b"%x\r\n\r\n" % LIMITS.body)
    data_size = LIMITS.body - framing
    body = b"%x\r\n" % data_size + b"x" * data_size + b"\r\n0\r\n\r\n"
    assert _verdict(CHUNKED + body).verdict is Verdict.READY


# --- the pool: who may buffer how much ----------------------------------------------


def _pool(**overrides: int) -> BufferPool:
    settings = {"capacity": 1000 * KIB, "reserve": 250 * KIB, "per_peer": 300 * KIB}
    return BufferPool(**(settings | overrides))


KIB = 1024


def test_every_requests_first_bytes_may_use_the_whole_pool_bodies_not_the_reserve():
    pool = _pool(capacity=2000 * KIB, reserve=500 * KIB, per_peer=10_000 * KIB)
    # Bodies (bytes past each request's first 64 KiB) fill only the pool less the reserve:
    # seven 200 KiB bodies fit its 1500 KiB, the eighth does not.
    for request in range(8):
        assert pool.take(peer=f"10.0.0.{request}", held=0, size=HEAD_ALLOWANCE)
        taken = pool.take(peer=f"10.0.0.{request}", held=HEAD_ALLOWANCE, size=200 * KIB)
        assert taken is (request < 7), request
    assert pool.used == 7 * (64 + 200) * KIB + 64 * KIB
    # New requests' first bytes still fit, in the reserve, until the whole pool is used.
    assert pool.take(peer="10.0.1.1", held=0, size=HEAD_ALLOWANCE)
    assert not pool.take(peer="10.0.1.2", held=0, size=HEAD_ALLOWANCE)
    assert pool.take(peer="10.0.1.2", held=0, size=pool.capacity - pool.used)
    assert not pool.take(peer="10.0.1.3", held=0, size=1)


def test_one_peer_buffers_bodies_only_within_its_share_and_may_still_start_requests():
    pool = _pool()
    assert pool.take(peer="10.0.0.1", held=0, size=290 * KIB)
    assert not pool.take(peer="10.0.0.1", held=290 * KIB, size=20 * KIB)
    assert not pool.take(peer="10.0.0.1", held=0, size=HEAD_ALLOWANCE + 1)
    # Past its share, the peer's health check (a request's first bytes) still gets in...
    assert pool.take(peer="10.0.0.1", held=0, size=20 * KIB)
    assert pool.take(peer="10.0.0.1", held=20 * KIB, size=40 * KIB)
    # ...and another peer's body too.
    assert pool.take(peer="10.0.0.2", held=0, size=290 * KIB)


@pytest.mark.parametrize("proxies", [("10.0.0.0/24",), ("*",)])
def test_the_operators_proxies_have_no_share_of_their_own_only_the_pool_and_reserve(proxies):
    """Every client behind a proxy shares its address: one share would be one for all."""
    pool = BufferPool(capacity=1024 * KIB, reserve=256 * KIB, per_peer=300 * KIB, proxies=proxies)
    for _ in range(3):  # far past a 300 KiB share: still in
        assert pool.take(peer="10.0.0.1", held=0, size=290 * KIB)
    assert not pool.take(peer="10.0.0.1", held=0, size=290 * KIB)  # the reserve holds
    assert pool.take(peer="10.0.0.1", held=0, size=20 * KIB)  # a health check gets in


def test_a_request_gives_back_all_it_held():
    pool = _pool()
    assert pool.take(peer="10.0.0.1", held=0, size=100 * KIB)
    assert pool.take(peer="10.0.0.1", held=100 * KIB, size=150 * KIB)
    assert pool.take(peer="10.0.0.2", held=0, size=10 * KIB)
    pool.give_back(peer="10.0.0.1", held=250 * KIB)
    assert (pool.used, pool.bulk, pool.peers) == (10 * KIB, 0, {"10.0.0.2": 10 * KIB})
    pool.give_back(peer="10.0.0.2", held=10 * KIB)
    assert (pool.used, pool.bulk, pool.peers) == (0, 0, {})


def test_the_default_limits_fit_a_small_machine_and_one_peer_one_largest_request():
    limits = ReadLimits()
    assert limits.buffer_bytes == 64 * 1024 * 1024
    assert limits.reserve_bytes == limits.buffer_bytes // 4
    assert limits.peer_bytes >= limits.max_body + HEAD_ALLOWANCE
    assert limits.buffer_bytes - limits.reserve_bytes >= limits.peer_bytes


def test_a_reserve_as_large_as_the_pool_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("GUNICORN_BUFFER_BYTES", "1048576")
    monkeypatch.setenv("GUNICORN_BUFFER_RESERVE_BYTES", "1048576")
    with pytest.raises(ImproperlyConfigured, match="GUNICORN_BUFFER_RESERVE_BYTES"):
        ReadLimits.from_environment()


@pytest.mark.parametrize(
    ("client", "peer"),
    [
        (("192.0.2.7", 51000), "192.0.2.7"),
        (("2001:db8:1:2:aaaa::1", 51000, 0, 0), "2001:db8:1:2::/64"),
        (("::ffff:192.0.2.7", 51000, 0, 0), "192.0.2.7"),
        ("", ""),  # a Unix socket's clients
    ],
)
def test_bytes_are_counted_per_address_and_per_ipv6_64(client, peer):
    assert peer_of(client) == peer
