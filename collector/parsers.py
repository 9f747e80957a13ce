"""Reading request bodies: bounded in size, gzip-aware, strict JSON.

The parser reads at most the configured number of bytes (compressed and decompressed),
so neither a huge body nor a zip bomb can exhaust memory, and it refuses what the
database could not store (NaN, Infinity, NUL characters, lone surrogates) as a 400
instead of a 500 later on.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

from collector.scrubbing import MAX_DEPTH
from flusso_site.errors import ApplicationError

# Escapes that decode to text PostgreSQL refuses: NUL, and UTF-16 surrogate halves.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_READ_CHUNK = 64 * 1024
# A run of 19 digits may be an integer orjson would not read as one (past 64 bits): such
# bodies are read by the standard library. Digits inside strings count too; that only
# costs speed. Found by mapping digits to "1" and the rest to "0" (bytes.translate and a
# substring search run in C, where a regex took 2 ms on a 270 KB batch).
_DIGITS = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x30 for byte in range(256))
_LONG_DIGIT_RUN = b"1" * 19
_UTF8_BOM = b"\xef\xbb\xbf"
# Compressed bytes fed to zlib at a time; bounds the copy made at each member's end.
_GZIP_CHUNK = 64 * 1024
# A gzip body may be several concatenated members (RFC 1952); a client compresses one
# stream, so a few allow for odd tools while thousands are an attack on the worker.
MAX_GZIP_MEMBERS = 64


def _too_large(limit: int) -> ApplicationError:
    return ApplicationError(
        f"The request body is larger than the limit of {limit} bytes.",
        code="payload_too_large",
        status=413,
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return number


def _read_bounded(stream: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)


def _gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Decompress every gzip member, never producing more than ``limit`` bytes.

    Linear in the body: the input is fed in chunks, so the bytes after a member's end
    (``unused_data``) are at most one chunk, never the rest of the body copied again for
    every member (which made 10 MiB of empty members take minutes). A body of more than
    MAX_GZIP_MEMBERS members is refused before it can cost more than a few milliseconds.
    """
    out: list[bytes] = []
    size = 0
    members = 0
    view = memoryview(data)
    offset = 0
    pending = b""
    decompressor = None
    try:
        while offset < len(view) or pending:
            if decompressor is None:
                members += 1
                if members > MAX_GZIP_MEMBERS:
                    raise ParseError(
                        f"The gzip body has more than {MAX_GZIP_MEMBERS} members; "
                        "send one gzip stream."
                    )
                decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            if pending:
                chunk, pending = pending, b""
            else:
                chunk = view[offset : offset + _GZIP_CHUNK]
                offset += len(chunk)
            part = decompressor.decompress(chunk, limit - size + 1)
            size += len(part)
            if size > limit or decompressor.unconsumed_tail:
                raise _too_large(limit)
            out.append(part)
            if decompressor.eof:
                # What follows this member's end, within the current chunk.
                pending = decompressor.unused_data
                decompressor = None
        if decompressor is not None and not decompressor.eof:
            raise ParseError("The gzip body is truncated.")
    except zlib.error:
        raise ParseError("The body is not valid gzip.") from None
    return b"".join(out)


def _repair_text(value: Any, depth: int = 0) -> Any:
    """Replace NUL characters and lone surrogates, which the database cannot store.

    Nesting past MAX_DEPTH is refused here already (later it would be anyway): recursing
    into it would exhaust the stack, a 500 instead of a 400.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        raise ParseError("The JSON body is nested too deeply.")
    if isinstance(value, dict):
        return {_repair_text(key): _repair_text(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_repair_text(item, depth + 1) for item in value]
    return value


def _stdlib_parse(raw: bytes) -> Any:
    try:
        # UTF-8 only: json.loads on bytes would also take UTF-16 and UTF-32.
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ParseError("The JSON body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"The body is not valid JSON: {exc}") from None


def json_body_parse(raw: bytes) -> Any:
    """Strict JSON: no NaN or Infinity; unstorable text repaired. Raises ParseError.

    orjson parses the usual body several times faster than the standard library; whatever
    it refuses (an error, a lone surrogate to repair, nesting past its limit) and every
    body with an integer past 64 bits (which orjson would read as a float) goes to the
    standard library, so the result and the errors are the standard library's.
    """
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    data: Any
    if _LONG_DIGIT_RUN in raw.translate(_DIGITS):
        data = _stdlib_parse(raw)
    else:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = _stdlib_parse(raw)
    if _UNSTORABLE_ESCAPE.search(raw):
        data = _repair_text(data)
    return data


class BoundedJSONParser(BaseParser):
    """JSON bodies, optionally gzip-compressed, bounded by the view's byte limit.

    A view names its limit with ``max_body_setting`` (a settings name), read per request
    so the limit can be changed by configuration and in tests.
    """

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        context = parser_context or {}
        request = context["request"]
        setting = getattr(context.get("view"), "max_body_setting", "INGEST_MAX_DOCUMENT_BYTES")
        limit: int = getattr(settings, setting)

        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)

        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        raw = _read_bounded(stream, limit)
        if encoding == "gzip":
            raw = _gunzip_bounded(raw, limit)
        elif encoding not in ("", "identity"):
            raise UnsupportedMediaType(
                encoding, detail=f"Content-Encoding {encoding!r} is not supported; use gzip."
            )
        return json_body_parse(raw)
