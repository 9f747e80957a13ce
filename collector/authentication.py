"""API key authentication for the ingestion API.

The key travels as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. One indexed
query finds the key by its public prefix; the secret is compared in constant time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.request import Request

from collector.keys import key_parse, secret_matches
from collector.models import ApiKey, Client
from collector.selectors import api_key_get_for_auth
from collector.services import api_key_mark_used, api_key_revoked_use_record
from flusso_site.proxies import client_ip


@dataclass(frozen=True)
class ApiPrincipal:
    """Who is calling: a client, through one of its keys. Stands in for request.user."""

    client: Client
    api_key: ApiKey
    is_authenticated: bool = True


def _raw_key(request: Request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationFailed(
                "Send the key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                code="invalid_key",
            )
        return value.strip()
    key = request.META.get("HTTP_X_API_KEY", "").strip()
    return key or None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiPrincipal, ApiKey] | None:
        raw = _raw_key(request)
        if raw is None:
            return None
        parsed = key_parse(raw)
        api_key = api_key_get_for_auth(prefix=parsed.prefix) if parsed else None
        if (
            parsed is None
            or api_key is None
            or not secret_matches(parsed.secret, api_key.secret_hash)
        ):
            raise AuthenticationFailed("The API key is not valid.", code="invalid_key")
        now = timezone.now()
        if api_key.revoked_at is not None:
            # Only a key whose secret matched: a guessed prefix records nothing.
            api_key_revoked_use_record(api_key=api_key, ip=client_ip(request), now=now)
            raise AuthenticationFailed("The API key has been revoked.", code="key_revoked")
        if api_key.is_expired(now=now):
            raise AuthenticationFailed("The API key has expired.", code="key_expired")
        if not api_key.client.is_active:
            raise PermissionDenied(
                f"The client {api_key.client.slug!r} is inactive.", code="client_inactive"
            )
        api_key_mark_used(api_key=api_key, now=now)
        return ApiPrincipal(client=api_key.client, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate), not 403, when the key is missing.
        return 'Bearer realm="flusso"'
