"""The caller's address: REMOTE_ADDR, or the address the outermost trusted proxy saw."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from flusso_site.proxies import client_ip


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),  # nothing trusted: the header is the caller's words
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "1.1.1.1, 198.51.100.1", "198.51.100.1"),  # the caller's own entry is ignored
        (2, "1.1.1.1, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.2"),  # fewer hops than proxies: bypassed, not trusted
        (1, "not-an-address", "10.0.0.2"),
        (1, "203.0.113.7:51234", "203.0.113.7"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "", "10.0.0.2"),
    ],
)
def test_client_ip(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    settings.TRUSTED_PROXY_ADDRESSES = ["10.0.0.0/24"]  # the proxy at 10.0.0.2
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **headers)
    assert client_ip(request) == expected


def test_no_usable_address_is_none(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="")) is None


@pytest.mark.parametrize("trusted", [["127.0.0.1"], ["192.168.0.0/16", "not-a-network"], []])
def test_the_header_of_a_caller_that_is_not_a_proxy_of_ours_is_ignored(settings, trusted):
    """Someone reaching the port directly (gunicorn binds 0.0.0.0) would otherwise choose
    the address the login limits and the key audit see."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_ADDRESSES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "10.0.0.2"


def test_any_peer_is_a_proxy_when_the_operator_says_so(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_ADDRESSES = ["*"]
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "1.2.3.4"
