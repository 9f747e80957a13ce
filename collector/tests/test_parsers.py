import gzip

import pytest
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from collector.exceptions import error_status
from collector.parsers import (
    MAX_GZIP_MEMBERS,
    UNSTORABLE_KEY_MESSAGE,
    UNSTORABLE_MESSAGE,
    BoundedJSONParser,
    _gunzip_bounded,
    body_bytes,
    json_body_parse,
    unstorable_fields,
)
from flusso_site.errors import ApplicationError


@pytest.mark.parametrize(
    "body", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}']
)
def test_non_finite_numbers_are_refused(body):
    with pytest.raises(ParseError):
        json_body_parse(body)


def test_unstorable_fields_names_every_key_and_value_holding_a_nul_or_lone_surrogate():
    data = json_body_parse(
        b'{"a\\u0000": "x", "b": ["ok", "\\ud800"], "c": {"d": "x\\u0000y"}, "e": "\\udfff"}'
    )
    assert unstorable_fields(data) == {
        "a\ufffd": [UNSTORABLE_KEY_MESSAGE],
        "b[1]": [UNSTORABLE_MESSAGE],
        "c.d": [UNSTORABLE_MESSAGE],
        "e": [UNSTORABLE_MESSAGE],
    }


def test_a_surrogate_pair_is_one_character_and_storable():
    assert unstorable_fields(json_body_parse(b'{"a": "\\ud83d\\ude00"}')) == {}


def test_unstorable_fields_names_a_bounded_number_of_fields():
    data = json_body_parse(b"[" + b",".join([b'"\\u0000"'] * 1000) + b"]")
    assert len(unstorable_fields(data)) == 10


def test_ordinary_unicode_escapes_are_kept():
    assert json_body_parse(b'{"name": "Jos\\u00e9 \\ud83d\\ude00"}') == {"name": "José 😀"}


def test_invalid_utf8_is_a_parse_error():
    with pytest.raises(ParseError):
        json_body_parse(b'{"a": "\xff\xfe"}')


@pytest.mark.parametrize("depth", [100, 500, 990])
def test_deep_nesting_with_unstorable_text_is_a_parse_error_not_a_crash(depth):
    with pytest.raises(ParseError):
        unstorable_fields(json_body_parse(b"[" * depth + b'"\\u0000"' + b"]" * depth))


def test_absurd_nesting_is_a_parse_error():
    with pytest.raises(ParseError):
        json_body_parse(b"[" * 100_000 + b"]" * 100_000)


def test_gzip_within_the_limit_decompresses():
    assert _gunzip_bounded(gzip.compress(b"x" * 1000), 1000) == b"x" * 1000


def test_gzip_bomb_stops_at_the_limit():
    bomb = gzip.compress(b"0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(ApplicationError) as info:
        _gunzip_bounded(bomb, 1_000_000)
    assert error_status(info.value) == 413


def test_concatenated_gzip_members_are_all_read_and_bounded():
    body = gzip.compress(b"a" * 600) + gzip.compress(b"b" * 600)
    assert _gunzip_bounded(body, 1200) == b"a" * 600 + b"b" * 600
    with pytest.raises(ApplicationError):
        _gunzip_bounded(body, 1000)


@pytest.mark.parametrize("body", [b"not gzip", gzip.compress(b"x" * 100)[:-12]])
def test_broken_gzip_is_a_parse_error(body):
    with pytest.raises(ParseError):
        _gunzip_bounded(body, 10_000)


def test_an_empty_body_gzipped_is_an_empty_body():
    assert _gunzip_bounded(gzip.compress(b""), 1000) == b""


def test_a_member_split_across_input_chunks_is_read_whole():
    payload = bytes(range(256)) * 2000  # 512 KB, compresses poorly: spans many chunks
    body = gzip.compress(payload) + gzip.compress(b"tail")
    assert _gunzip_bounded(body, 10_000_000) == payload + b"tail"


def test_many_tiny_gzip_members_are_refused_quickly_not_decompressed_one_by_one():
    """10 MiB of empty members once held a worker for 30 s (each member copied the rest)."""
    empty = gzip.compress(b"")
    body = empty * (10 * 1024 * 1024 // len(empty))
    with pytest.raises(ParseError, match="members"):
        _gunzip_bounded(body, 10 * 1024 * 1024)


def test_up_to_max_members_are_accepted():
    body = gzip.compress(b"x") * MAX_GZIP_MEMBERS
    assert _gunzip_bounded(body, 1000) == b"x" * MAX_GZIP_MEMBERS
    with pytest.raises(ParseError):
        _gunzip_bounded(body + gzip.compress(b"x"), 1000)


@pytest.mark.parametrize("gzipped", [False, True])
def test_the_parser_records_the_size_it_read_after_decompression(gzipped):
    raw = b'{"trace": "' + b"x" * 5000 + b'"}'
    body = gzip.compress(raw) if gzipped else raw
    headers = {"HTTP_CONTENT_ENCODING": "gzip"} if gzipped else {}
    django_request = APIRequestFactory().post(
        "/api/v1/logs", data=body, content_type="application/json", **headers
    )
    request = Request(django_request, parsers=[BoundedJSONParser()])
    assert body_bytes(request) == 0
    assert request.data == {"trace": "x" * 5000}
    assert body_bytes(request) == len(raw)
