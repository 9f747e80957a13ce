"""Webhooks: the URL rule, the payloads (versioned JSON or Slack), the signature, the send.

The send is SSRF-safe: the URL's host is resolved once, at delivery time, and refused
when any of its addresses is not a public one (loopback, private, link-local, multicast,
reserved, unspecified, shared, or an IPv4-mapped / 6to4 / Teredo / NAT64 form of those)
unless ``ALERT_WEBHOOK_ALLOW_PRIVATE``. The connection then goes to the address that was
checked, never through a second lookup a DNS server could answer differently (rebinding);
the Host header and, for https, SNI and certificate checks keep the URL's host name.
Redirects are not followed: a 3xx is an answer like any other non-2xx.

One attempt has ``timeout`` seconds IN ALL (a monotonic deadline), not per socket
operation: connecting, the TLS handshake, sending, and reading the status line, headers
and at most RESPONSE_BODY_LIMIT bytes of body. The answer is read in small chunks, each
read waiting only for what is left of the deadline, so a receiver trickling a byte at a
time cannot hold a delivery run beyond it.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dashboard.monitors.messages import (
    WEBHOOK_EVENTS,
    event_state,
    event_summary,
    event_value,
)
from dashboard.monitors.models import AlertEvent, AlertEventKind, Metric
from flusso_site.errors import ApplicationError

PAYLOAD_VERSION = 1
SIGNATURE_HEADER = "X-Flusso-Signature"
EVENT_HEADER = "X-Flusso-Event"
DELIVERY_HEADER = "X-Flusso-Delivery"
USER_AGENT = "Flusso-Webhooks/1"
# AlertChannel.url's max_length.
URL_MAX_LENGTH = 500
# How much of a receiver's answer is read (for the delivery log): enough for an error
# message, never a large body held in memory.
RESPONSE_BODY_LIMIT = 1024
# The status line and headers of an answer may not be longer than this.
RESPONSE_HEAD_LIMIT = 16 * 1024
_CHUNK = 1024

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class InvalidWebhookUrl(ApplicationError):
    """The URL cannot be a webhook: not http(s), no host, credentials in it, ..."""


class WebhookRefused(ApplicationError):
    """No connection was made: the host did not resolve, or resolved to a non-public address."""


class WebhookPrivateAddress(WebhookRefused):
    """The host resolved to a loopback, private or link-local address, which is refused."""

    code = "webhook_private_address"


class WebhookSendError(ApplicationError):
    """A connection was tried and failed (refused, timed out, TLS, broken answer)."""


def webhook_url_check(url: str) -> str:
    """The URL, stripped, when it may be a webhook's; InvalidWebhookUrl saying why not.

    Only the form is checked here (on save); where it points is checked at delivery time,
    when it is resolved.
    """
    url = (url or "").strip()
    if not url:
        raise InvalidWebhookUrl("A webhook URL is required.", code="webhook_url")
    if len(url) > URL_MAX_LENGTH:
        raise InvalidWebhookUrl(
            f"A webhook URL has at most {URL_MAX_LENGTH} characters.", code="webhook_url"
        )
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise InvalidWebhookUrl("A webhook URL may not contain spaces.", code="webhook_url")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidWebhookUrl(
            "A webhook URL must start with http:// or https://.", code="webhook_url"
        )
    if "@" in parts.netloc:
        raise InvalidWebhookUrl(
            "A webhook URL may not contain a user name or password; "
            "the receiver checks the X-Flusso-Signature header instead.",
            code="webhook_url",
        )
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise InvalidWebhookUrl(
            "The webhook URL's port is not valid.", code="webhook_url"
        ) from None
    if not parts.hostname:
        raise InvalidWebhookUrl("The webhook URL has no host.", code="webhook_url")
    return url


def address_is_public(address: str) -> bool:
    """Whether a webhook may connect to this IP address without ALERT_WEBHOOK_ALLOW_PRIVATE."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        # Forms that carry an IPv4 address reach that address: judge it instead.
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if embedded:
            return all(address_is_public(str(inner)) for inner in embedded)
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        # The deprecated IPv6 site-local range (fec0::/10) is still routed inside some
        # networks, yet Python counts it as global.
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
        # Also refuses what the above miss: shared address space (100.64.0.0/10) and
        # IETF/documentation ranges.
        or not ip.is_global
    )


def addresses_resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to, once; WebhookRefused when it does not resolve
    or, unless ``allow_private``, when ANY of its addresses is not public (a name with one
    public and one private address could be made to reach the private one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookRefused(
            f"The webhook host {host} does not resolve ({error}).", code="webhook_dns"
        ) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise WebhookRefused(f"The webhook host {host} does not resolve.", code="webhook_dns")
    if not allow_private:
        blocked = [address for address in addresses if not address_is_public(address)]
        if blocked:
            raise WebhookPrivateAddress(
                f"Refused: the webhook host {host} resolves to a non-public address "
                f"({', '.join(blocked)}). Set ALERT_WEBHOOK_ALLOW_PRIVATE=true to allow "
                "loopback, private and link-local receivers."
            )
    return addresses


def webhook_signature(secret: str, body: bytes) -> str:
    """The X-Flusso-Signature value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def alert_payload(event: AlertEvent) -> dict[str, Any]:
    """The versioned JSON body (version 1) for an alert event; docs/monitors.md has the schema.

    It describes the alert as of the event, so a retried delivery sends the same bytes.
    """
    alert = event.alert
    summary = event_summary(event)
    resolved = event.kind == AlertEventKind.RESOLVED
    return {
        "version": PAYLOAD_VERSION,
        "event": WEBHOOK_EVENTS[AlertEventKind(event.kind)],
        "event_id": event.pk,
        "event_at": _iso(event.at),
        "summary": summary.headline,
        "alert": {
            "id": alert.pk,
            "metric": alert.metric,
            "metric_label": Metric(alert.metric).label,
            "environment": alert.environment,
            "state": event_state(event),
            "opened_at": _iso(alert.opened_at),
            "resolved_at": _iso(event.at) if resolved else None,
            "value": event_value(event),
            "sample_size": alert.sample_size,
            "baseline": {
                "median": alert.baseline_median,
                "low": alert.baseline_low,
                "high": alert.baseline_high,
            },
            "p_value": alert.p_value,
            "window": {
                "start": _iso(alert.window_start),
                "end": _iso(alert.window_end),
                "minutes": alert.monitor.window_minutes,
            },
            "url": summary.url,
        },
        "client": {"slug": alert.client.slug, "name": alert.client.name},
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: AlertEvent) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (notifications, fallback) plus blocks."""
    summary = event_summary(event)
    icon = ":rotating_light:" if event.kind == AlertEventKind.OPENED else ":white_check_mark:"
    headline = _slack_escape(summary.headline)
    link = f"<{summary.url}|Open the alerts of {_slack_escape(summary.client_name)}>"
    return {
        "text": f"[Flusso] {summary.headline}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{headline}*"}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": link}],
            },
        ],
    }


def payload_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: bytes
    location: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Deadline:
    """A monotonic deadline: what is left of it, as a socket timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the attempt's deadline passed")
        return left


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a given address, whatever the host name (which stays in the Host header)."""

    def __init__(self, host: str, port: int, *, address: str, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.seconds)
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self._deadline.left())


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a given address; SNI and the certificate check use the host name."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        address: str,
        deadline: _Deadline,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=deadline.seconds, context=context)
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self._deadline.left())
        # The handshake's timeout is for the whole handshake (CPython's ssl module keeps
        # one deadline across its reads and writes).
        sock.settimeout(self._deadline.left())
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _recv(sock: socket.socket, deadline: _Deadline) -> bytes:
    sock.settimeout(deadline.left())
    return sock.recv(_CHUNK)


def _answer_read(sock: socket.socket, deadline: _Deadline) -> WebhookAnswer:
    """The receiver's answer, read by hand within the deadline: the status line, headers
    and at most RESPONSE_BODY_LIMIT bytes of body (1xx interim answers skipped)."""
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > RESPONSE_HEAD_LIMIT:
                raise http.client.HTTPException("the answer's headers are too long")
            chunk = _recv(sock, deadline)
            if not chunk:
                raise http.client.RemoteDisconnected("the receiver closed the connection")
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status_line, _, header_lines = head.partition(b"\r\n")
        version, _, rest = status_line.decode("iso-8859-1").partition(" ")
        code = rest.strip()[:3]
        if not version.startswith("HTTP/") or not code.isdigit():
            raise http.client.BadStatusLine(status_line.decode("iso-8859-1")[:100])
        status = int(code)
        if not 100 <= status < 200:
            break
    headers = http.client.parse_headers(io.BytesIO(header_lines + b"\r\n\r\n"))
    length = headers.get("Content-Length", "")
    limit = RESPONSE_BODY_LIMIT
    if length.strip().isdigit():
        limit = min(limit, int(length))
    chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
    while len(buffer) < limit and status not in (204, 304):
        try:
            chunk = _recv(sock, deadline)
        except TimeoutError:
            break  # the status and headers are the answer; the body was only for the log
        if not chunk:
            break
        buffer += chunk
    body = buffer[:limit]
    if chunked:
        body = _dechunk(body)
    return WebhookAnswer(status=status, body=body, location=headers.get("Location", "") or "")


def _dechunk(data: bytes) -> bytes:
    """The start of a chunked body, as far as it was read."""
    out = b""
    while data:
        size_line, sep, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        except ValueError:
            break
        if not sep or size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def webhook_post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> WebhookAnswer:
    """POST ``body`` to ``url`` on a checked address; the receiver's answer (not followed
    when a redirect). WebhookRefused when no connection may be made, WebhookSendError
    when the connection or the answer failed."""
    url = webhook_url_check(url)
    parts = urlsplit(url)
    https = parts.scheme.lower() == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    addresses = addresses_resolve(host, port, allow_private=allow_private)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    deadline = _Deadline(timeout)
    last_error: OSError | None = None
    for address in addresses:
        connection: http.client.HTTPConnection
        if https:
            connection = _PinnedHTTPSConnection(
                host,
                port,
                address=address,
                deadline=deadline,
                context=ssl_context or ssl.create_default_context(),
            )
        else:
            connection = _PinnedHTTPConnection(host, port, address=address, deadline=deadline)
        try:
            try:
                connection.connect()
            except TimeoutError as error:  # the deadline is for all addresses together
                raise WebhookSendError(_describe(error, timeout), code="webhook_connect") from None
            except OSError as error:  # this address is down; the next one may answer
                last_error = error
                continue
            assert connection.sock is not None
            # sendall's timeout bounds the whole send (Python >= 3.5).
            connection.sock.settimeout(deadline.left())
            connection.request("POST", path, body=body, headers=request_headers)
            return _answer_read(connection.sock, deadline)
        except (OSError, http.client.HTTPException) as error:
            raise WebhookSendError(_describe(error, timeout), code="webhook_send") from None
        finally:
            connection.close()
    raise WebhookSendError(_describe(last_error, timeout), code="webhook_connect")


def _describe(error: BaseException | None, timeout: float) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return (
            f"timed out: no complete answer within {timeout:g} s "
            "(connecting, sending and reading the answer together)"
        )
    if error is None:
        return "no address answered"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"
