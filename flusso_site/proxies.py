"""The caller's address, for rate limits and the audit trail.

Behind a TLS proxy every request comes from the proxy's address. When the operator says
how many proxies in front of the service are its own (``TRUSTED_PROXY_COUNT``), the
caller is the address the outermost trusted proxy saw: the Nth entry from the right of
``X-Forwarded-For``. Entries left of it were written by the caller and are not trusted.
With 0 (the default) the header is ignored and ``REMOTE_ADDR`` is the caller.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _clean(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _from_trusted_proxy(address: str | None) -> bool:
    """Whether the socket's peer is one of the operator's proxies (TRUSTED_PROXY_ADDRESSES:
    addresses or networks, ``*`` for any)."""
    if address is None:
        return False
    peer = ipaddress.ip_address(address)
    for entry in settings.TRUSTED_PROXY_ADDRESSES:
        entry = entry.strip()
        if entry == "*":
            return True
        try:
            if peer in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address, or None when nothing usable is known."""
    count: int = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    peer = _clean(request.META.get("REMOTE_ADDR", "") or "")
    # From anywhere but a proxy of ours (a caller who reached the port directly), the
    # header is the caller's own claim: believing it would let them pick their address.
    if count > 0 and forwarded and _from_trusted_proxy(peer):
        hops = forwarded.split(",")
        # Fewer hops than trusted proxies: the request bypassed a proxy, or the proxies
        # are set up differently from what the operator said. The header then proves
        # nothing; the socket's address does.
        if len(hops) >= count:
            found = _clean(hops[-count])
            if found:
                return found
    return peer
