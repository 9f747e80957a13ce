"""Webhooks: the URL rule, the SSRF guard on resolved addresses, the signature, the send."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from dashboard.monitors.tests.receiver import receiver
from dashboard.monitors.webhooks import (
    InvalidWebhookUrl,
    WebhookRefused,
    WebhookSendError,
    address_is_public,
    addresses_resolve,
    payload_body,
    webhook_post,
    webhook_signature,
    webhook_url_check,
)


def receiver_verifies(secret: str, body: bytes, header: str) -> bool:
    """What docs/monitors.md (alert channels) tells a receiver to do, line for line."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


# --- The URL rule (on save) ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/flusso",
        "http://hooks.example.com:8080/a?b=c",
        "https://[2001:db8::1]/hook",
    ],
)
def test_http_and_https_urls_with_a_host_are_accepted(url):
    assert webhook_url_check(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "required"),
        ("ftp://hooks.example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("gopher://127.0.0.1:6379/_INFO", "http:// or https://"),
        ("https://user:pass@hooks.example.com/", "user name or password"),
        ("https://token@hooks.example.com/", "user name or password"),
        ("https:///no-host", "no host"),
        ("https://hooks.example.com:99999/", "port"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://example.com/" + "a" * 500, "at most 500"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url, says):
    with pytest.raises(InvalidWebhookUrl) as caught:
        webhook_url_check(url)
    assert says in caught.value.message


# --- Which addresses a webhook may reach ------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.10",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # shared address space (carrier NAT)
        "0.0.0.0",  # noqa: S104 (an address refused, not one bound)
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fec0::1",  # deprecated site-local: Python calls it global
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "::127.0.0.1",  # IPv4-compatible (deprecated) loopback
        "not an address",
    ],
)
def test_non_public_addresses_are_not_reachable(address):
    assert not address_is_public(address)


@pytest.mark.parametrize(
    "address",
    ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_are_reachable(address):
    assert address_is_public(address)


def test_a_name_resolving_to_loopback_is_refused():
    with pytest.raises(WebhookRefused) as caught:
        addresses_resolve("localhost", 80, allow_private=False)
    assert caught.value.code == "webhook_private_address"
    assert "ALERT_WEBHOOK_ALLOW_PRIVATE" in caught.value.message


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    """Any private address refuses the name: the connection could be steered to it."""

    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(WebhookRefused) as caught:
        addresses_resolve("mixed.example.com", 443, allow_private=False)
    assert "10.0.0.7" in caught.value.message and "8.8.8.8" not in caught.value.message


def test_a_name_that_does_not_resolve_is_refused_without_a_connection():
    with pytest.raises(WebhookRefused) as caught:
        addresses_resolve("no-such-host.invalid", 443, allow_private=True)
    assert caught.value.code == "webhook_dns"


# --- Sending ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"],
)
def test_without_the_setting_no_request_reaches_a_loopback_receiver(host):
    with receiver() as hook:
        with pytest.raises(WebhookRefused):
            webhook_post(hook.url(host=host), b"{}", {}, allow_private=False, timeout=2)
        assert hook.requests == []


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]/hook"]
)
def test_without_the_setting_private_and_metadata_addresses_are_refused(url, monkeypatch):
    """Refused before any connection: connecting at all would fail the test."""

    def no_connection(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(WebhookRefused) as caught:
        webhook_post(url, b"{}", {}, allow_private=False, timeout=2)
    assert caught.value.code == "webhook_private_address"


def test_a_signed_post_reaches_the_receiver_with_the_exact_signed_bytes():
    body = payload_body({"version": 1, "event": "alert.opened", "text": "héllo"})
    secret = "a-secret-for-this-test-only"
    headers = {"X-Flusso-Signature": webhook_signature(secret, body)}
    with receiver() as hook:
        answer = webhook_post(hook.url("/in?x=1"), body, headers, allow_private=True, timeout=2)
    assert answer.ok and answer.status == 200
    (request,) = hook.requests
    assert request.path == "/in?x=1"
    assert request.body == body
    assert request.headers["Content-Type"] == "application/json"
    signature = request.headers["X-Flusso-Signature"]
    assert receiver_verifies(secret, request.body, signature)
    assert not receiver_verifies("another-secret", request.body, signature)
    assert json.loads(request.body)["text"] == "héllo"


def test_the_connection_goes_to_the_checked_address_and_keeps_the_host_name(monkeypatch):
    """One lookup only (no rebinding between check and connect); Host is the URL's."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        lookups.append(host)
        if host == "hooks.example.test":
            # The first answer is the one checked and used; a later lookup would get 10.x.
            host = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with receiver() as hook:
        url = hook.url(host="hooks.example.test")
        answer = webhook_post(url, b"{}", {}, allow_private=True, timeout=2)
    assert answer.status == 200
    # (The connection passes the checked address itself to getaddrinfo: no DNS query.)
    assert lookups == ["hooks.example.test", "127.0.0.1"]
    (request,) = hook.requests
    assert request.headers["Host"] == f"hooks.example.test:{hook.port}"


def test_redirects_are_answers_not_followed():
    with receiver() as hook:
        hook.answer(302)
        answer = webhook_post(hook.url(), b"{}", {}, allow_private=True, timeout=2)
    assert answer.status == 302 and not answer.ok
    assert answer.location == "http://127.0.0.1:1/elsewhere"
    assert len(hook.requests) == 1


def test_a_receiver_slower_than_the_timeout_is_a_send_error():
    with receiver() as hook:
        hook.answer(200, delay=2.0)
        with pytest.raises(WebhookSendError) as caught:
            webhook_post(hook.url(), b"{}", {}, allow_private=True, timeout=0.5)
    assert caught.value.message.startswith("timed out: no complete answer within 0.5 s")


def test_a_trickling_receiver_is_cut_off_at_the_deadline_for_the_whole_attempt():
    """One byte every 0.2 s never lets a 1 s socket timeout expire; the attempt still
    ends after 1 s in all (it took 34 s with a per-read timeout)."""
    with receiver() as hook:
        hook.answer(200, trickle=0.2)
        started = time.monotonic()
        with pytest.raises(WebhookSendError) as caught:
            webhook_post(hook.url(), b"{}", {}, allow_private=True, timeout=1)
        took = time.monotonic() - started
    assert took < 2.0
    assert "timed out" in caught.value.message and "within 1 s" in caught.value.message


def test_a_trickled_answer_within_the_deadline_is_read():
    with receiver() as hook:
        hook.answer(503, b"busy", trickle=0.01)
        answer = webhook_post(hook.url(), b"{}", {}, allow_private=True, timeout=5)
    assert answer.status == 503 and answer.body == b"busy"


def test_a_body_still_trickling_at_the_deadline_keeps_the_status():
    """Status and headers came in time: that is the answer; the body is only for the log."""
    with receiver() as hook:
        hook.answer(500, b"x" * 1000, trickle=0.005)  # the body alone takes 5 s
        started = time.monotonic()
        answer = webhook_post(hook.url(), b"{}", {}, allow_private=True, timeout=1.5)
        took = time.monotonic() - started
    assert answer.status == 500 and 0 < len(answer.body) < 1000
    assert took < 2.5


def test_a_closed_port_is_a_send_error():
    with receiver() as hook:
        url = hook.url()
    with pytest.raises(WebhookSendError):
        webhook_post(url, b"{}", {}, allow_private=True, timeout=1)


def test_only_the_start_of_a_large_answer_is_read():
    with receiver() as hook:
        hook.answer(500, b"x" * 100_000)
        answer = webhook_post(hook.url(), b"{}", {}, allow_private=True, timeout=2)
    assert answer.status == 500 and len(answer.body) == 1024


# --- https: the checked address, the URL's name for SNI and the certificate --------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for hooks.example.test only (openssl, as operators make them)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=hooks.example.test",
            "-addext", "subjectAltName=DNS:hooks.example.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


@pytest.fixture
def hosts_to_loopback(monkeypatch):
    """*.example.test resolve to 127.0.0.1 (what a DNS record would say)."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if str(host).endswith(".example.test"):
            host = "127.0.0.1"
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_https_connects_to_the_checked_address_with_the_urls_name_for_sni(
    certificate, hosts_to_loopback
):
    """The certificate names only hooks.example.test: verifying it against 127.0.0.1 (the
    address connected to) would fail, so success means SNI and the check use the name."""
    server, client = certificate
    with receiver(tls=server) as hook:
        url = hook.url(host="hooks.example.test")
        answer = webhook_post(url, b"{}", {}, allow_private=True, timeout=2, ssl_context=client)
    assert answer.status == 200
    assert hook.requests[0].headers["Host"] == f"hooks.example.test:{hook.port}"


def test_https_with_a_certificate_for_another_name_is_a_send_error(certificate, hosts_to_loopback):
    server, client = certificate
    with receiver(tls=server) as hook:
        url = hook.url(host="other.example.test")
        with pytest.raises(WebhookSendError) as caught:
            webhook_post(url, b"{}", {}, allow_private=True, timeout=2, ssl_context=client)
        assert hook.requests == []
    assert "certificate" in caught.value.message.lower()


# --- The docs' receiver code --------------------------------------------------------------


def docs_text() -> str:
    """The channels part of docs/monitors.md, where receivers read the check."""
    return (Path(settings.BASE_DIR) / "docs" / "monitors.md").read_text()


def test_the_documented_verification_code_accepts_our_signature_and_nothing_else():
    (snippet,) = re.findall(r"```python\n(.*?def flusso_signature_ok.*?)```", docs_text(), re.S)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 (our own docs, run to prove they are right)
    verify = namespace["flusso_signature_ok"]
    body = payload_body({"version": 1, "event": "alert.opened"})
    header = webhook_signature("example-secret", body)
    assert verify("example-secret", body, header)
    assert not verify("example-secret", body + b" ", header)
    assert not verify("another-secret", body, header)
    # The worked example's numbers are the real ones.
    assert body == b'{"event":"alert.opened","version":1}'
    assert header in docs_text()
