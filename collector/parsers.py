"""Reading request bodies: bounded in size, gzip-aware, strict JSON.

The parser reads at most the configured number of bytes (compressed and decompressed),
so neither a huge body nor a zip bomb can exhaust memory, and it refuses what the
database could not store (NaN, Infinity, NUL characters, lone surrogates), a charset
other than UTF-8 and a body shorter than its Content-Length, each as a 4xx naming what is
wrong instead of a 500 later on.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import orjson
from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

from collector.errors import ChunkedBodyRefused, DocumentInvalid, PayloadTooLarge
from collector.scrubbing import MAX_DEPTH
from collector.validation import UnstorableDocument

# Escapes that decode to text PostgreSQL refuses: NUL, and UTF-16 surrogate halves. A pair
# of halves decodes to one character and is fine; only a body with such an escape is
# searched for what it decoded to.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_SURROGATE = re.compile("[\ud800-\udfff]")
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
# Where the parser records the body's size after decompression, on the request it parsed.
BODY_BYTES_ATTRIBUTE = "flusso_body_bytes"
# A gzip body may be several concatenated members (RFC 1952); a client compresses one
# stream, so a few allow for odd tools while thousands are an attack on the worker.
MAX_GZIP_MEMBERS = 64


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")


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


UNSTORABLE_MESSAGE = (
    "Holds a NUL character or a lone UTF-16 surrogate, which cannot be stored; "
    "replace it (for example with U+FFFD) before sending."
)
UNSTORABLE_KEY_MESSAGE = (
    "This key holds a NUL character or a lone UTF-16 surrogate, which cannot be stored."
)
# Fields named in one error: enough to find the culprit, bounded for a hostile body.
_MAX_NAMED_FIELDS = 10


def _unstorable(text: str) -> bool:
    return "\x00" in text or _SURROGATE.search(text) is not None


def _printable(key: str) -> str:
    """A key as it can be shown in an error: the characters that made it unstorable
    would make the error itself unstorable and unprintable."""
    return _SURROGATE.sub("\ufffd", key.replace("\x00", "\ufffd"))


def unstorable_fields(value: Any, path: str = "", depth: int = 0) -> dict[str, list[str]]:
    """Where ``value`` holds text PostgreSQL cannot store, keys included, as
    ``{"ticket.body": [message], "trace.notes[2]": [message]}`` (at most
    _MAX_NAMED_FIELDS). Nesting past MAX_DEPTH is refused here already: recursing into it
    would exhaust the stack, a 500 instead of a 400."""
    found: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(value, path, depth)]
    while stack and len(found) < _MAX_NAMED_FIELDS:
        item, where, level = stack.pop()
        if isinstance(item, str):
            if _unstorable(item):
                found[where or "non_field_errors"] = [UNSTORABLE_MESSAGE]
            continue
        if level >= MAX_DEPTH and isinstance(item, dict | list):
            raise ParseError("The JSON body is nested too deeply.")
        if isinstance(item, dict):
            for key, child in reversed(item.items()):
                name = f"{where}.{_printable(key)}" if where else _printable(key)
                if _unstorable(key):
                    found[name] = [UNSTORABLE_KEY_MESSAGE]
                stack.append((child, name, level + 1))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                stack.append((item[index], f"{where}[{index}]", level + 1))
    return found


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
    """Strict UTF-8 JSON: no NaN or Infinity. Raises ParseError.

    orjson parses the usual body several times faster than the standard library; whatever
    it refuses (an error, a lone surrogate, nesting past its limit) and every
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
    return data


class BoundedJSONParser(BaseParser):
    """JSON bodies, optionally gzip-compressed, bounded by the view's byte limit.

    A view names its limit with ``max_body_setting`` (a settings name), read per request
    so the limit can be changed by configuration and in tests. The size of the JSON it
    read (after decompression) is recorded on the request: ``body_bytes`` reads it.
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

        _charset_check(media_type or request.META.get("CONTENT_TYPE", ""))
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)

        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        raw = _read_bounded(stream, limit)
        if declared.isdigit() and len(raw) < int(declared):
            # The client stopped sending early (or closed its side): what arrived may
            # happen to be complete JSON, but it is not what was sent.
            raise ParseError(
                f"The body ended after {len(raw)} of the {declared} bytes its "
                "Content-Length declared."
            )
        if encoding == "gzip":
            raw = _gunzip_bounded(raw, limit)
        elif encoding not in ("", "identity"):
            raise UnsupportedMediaType(
                encoding, detail=f"Content-Encoding {encoding!r} is not supported; use gzip."
            )
        setattr(request, BODY_BYTES_ATTRIBUTE, len(raw))
        data = json_body_parse(raw)
        if _UNSTORABLE_ESCAPE.search(raw):
            data = _unstorable_refuse(
                data, batch_field=getattr(context.get("view"), "batch_field", None)
            )
        return data


def body_bytes(request: Any) -> int:
    """The size of the JSON body the parser read, after decompression (0 if none was)."""
    return getattr(request, BODY_BYTES_ATTRIBUTE, 0)


def body_framing_check(meta: dict[str, Any]) -> None:
    """A chunked body without a Content-Length would be read as empty (WSGI gives the
    application no end-of-body for it), and "empty" is not what the client sent: refused.
    Every shipper and HTTP library sends a Content-Length for a body it holds."""
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not meta.get("CONTENT_LENGTH"):
        raise ChunkedBodyRefused(
            "Chunked request bodies are not accepted: send the body with a Content-Length."
        )


def _charset_check(content_type: str) -> None:
    """UTF-8 only (RFC 8259): a body declared in another charset is refused, not guessed."""
    _, params = parse_header_parameters(content_type)
    charset = params.get("charset", "utf-8").strip().lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            content_type,
            detail=f"The charset {charset!r} is not supported; send UTF-8 JSON.",
        )


def _unstorable_refuse(data: Any, *, batch_field: str | None) -> Any:
    """Refuse text the database cannot store, naming where it is.

    A single document is a 400. In a batch each document holding such text is replaced by
    an ``UnstorableDocument``, rejected by index with its fields like any invalid document,
    while the others are stored (the batch endpoint's contract).
    """
    documents = data.get(batch_field) if batch_field and isinstance(data, dict) else None
    if isinstance(documents, list):
        for index, document in enumerate(documents):
            fields = unstorable_fields(document)
            if fields:
                documents[index] = UnstorableDocument(fields)
        return data
    fields = unstorable_fields(data)
    if fields:
        raise DocumentInvalid("The body holds text that cannot be stored.", fields=fields)
    return data
