"""Writes of the collector's clients and API keys."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from collector.keys import key_generate
from collector.models import (
    ApiKey,
    ApiKeyEvent,
    ApiKeyEventKind,
    ApiKeyEventSource,
    ApiKeyScope,
    Client,
)
from flusso_site.errors import ApplicationError


def client_create(
    *, slug: str, name: str, retention_days: int | None = None, is_active: bool = True
) -> Client:
    client = Client(slug=slug, name=name, retention_days=retention_days, is_active=is_active)
    try:
        client.full_clean()
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The client is not valid.", fields=exc.message_dict, code="invalid"
        ) from None
    client.save()
    return client


def _event(
    *,
    api_key: ApiKey,
    kind: str,
    at: datetime,
    actor: AbstractBaseUser | None,
    source: str,
    ip: str | None = None,
) -> ApiKeyEvent:
    return ApiKeyEvent.objects.create(
        api_key=api_key,
        key_prefix=api_key.prefix,
        client_slug=api_key.client.slug,
        kind=kind,
        at=at,
        actor=actor,
        source=source,
        ip=ip,
    )


def api_key_scopes_parse(values: Collection[str]) -> set[str]:
    """Scope names, each value one name or several separated by commas ("ingest,read"),
    checked against ``ApiKeyScope``; at least one is required."""
    scopes = {part.strip().lower() for value in values for part in value.split(",")}
    scopes.discard("")
    unknown = sorted(scopes - set(ApiKeyScope.values))
    valid = ", ".join(ApiKeyScope.values)
    if unknown:
        raise ApplicationError(
            f"Unknown scope {', '.join(map(repr, unknown))}; the scopes are {valid}.",
            fields={"scopes": [f"Choose among {valid}."]},
        )
    if not scopes:
        raise ApplicationError(
            f"A key needs at least one scope: {valid}.",
            fields={"scopes": [f"Choose among {valid}."]},
        )
    return scopes


def api_key_create(
    *,
    client: Client,
    label: str = "",
    expires_at: datetime | None = None,
    scopes: Collection[str] = (ApiKeyScope.INGEST,),
    actor: AbstractBaseUser | None = None,
    source: str = ApiKeyEventSource.COMMAND_LINE,
) -> tuple[ApiKey, str]:
    """A new key for the client, as (row, full key). The full key is never stored.

    ``scopes`` are ``ApiKeyScope`` values (ingest only by default); an unknown one, or
    none, is an ``ApplicationError`` and creates nothing. The creation is recorded with
    who made it (``actor``, a staff user in admin; nobody on the command line) in the same
    transaction as the key.
    """
    chosen = api_key_scopes_parse(scopes)
    with transaction.atomic():
        while True:
            raw_key, prefix, secret_hash = key_generate()
            if not ApiKey.objects.filter(prefix=prefix).exists():
                break
        api_key = ApiKey.objects.create(
            client=client,
            label=label,
            prefix=prefix,
            secret_hash=secret_hash,
            expires_at=expires_at,
            scope_ingest=ApiKeyScope.INGEST in chosen,
            scope_read=ApiKeyScope.READ in chosen,
        )
        _event(
            api_key=api_key,
            kind=ApiKeyEventKind.CREATED,
            at=api_key.created_at,
            actor=actor,
            source=source,
        )
    return api_key, raw_key


def api_key_revoke(
    *,
    api_key: ApiKey,
    now: datetime | None = None,
    actor: AbstractBaseUser | None = None,
    source: str = ApiKeyEventSource.COMMAND_LINE,
) -> ApiKey:
    """Revoke the key from now on; revoking twice keeps the first time (and its record)."""
    if api_key.revoked_at is not None:
        return api_key
    moment = now or timezone.now()
    with transaction.atomic():
        # The conditional update makes two concurrent revocations record one event.
        revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=moment
        )
        if revoked:
            _event(
                api_key=api_key,
                kind=ApiKeyEventKind.REVOKED,
                at=moment,
                actor=actor,
                source=source,
            )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_revoked_use_record(*, api_key: ApiKey, ip: str | None, now: datetime) -> bool:
    """Record that a revoked key was presented, at most once per key per window.

    A leaked, revoked key can be replayed thousands of times a minute; the trail needs to
    show that it is still in use and from where, not one row per request. The cache lets
    one request per key and window through (per process without Redis); the database
    check keeps processes that each let one through from writing more than one row per
    window. Returns whether an event was written.
    """
    window = settings.API_KEY_REVOKED_USE_EVENT_SECONDS
    if not cache.add(f"flusso:revoked-key-used:{api_key.prefix}", 1, timeout=window):
        return False
    recent = ApiKeyEvent.objects.filter(
        api_key=api_key,
        kind=ApiKeyEventKind.REVOKED_KEY_USED,
        at__gt=now - timedelta(seconds=window),
    )
    if recent.exists():
        return False
    _event(
        api_key=api_key,
        kind=ApiKeyEventKind.REVOKED_KEY_USED,
        at=now,
        actor=None,
        source=ApiKeyEventSource.API,
        ip=ip,
    )
    return True


def api_key_mark_used(*, api_key: ApiKey, now: datetime) -> None:
    """Record use, at most once per resolution window, so requests do not all write."""
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is not None and now - api_key.last_used_at < resolution:
        return
    # The conditional update keeps concurrent workers from all writing the same minute.
    ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=now - resolution).update(
        last_used_at=now
    )
    api_key.last_used_at = now
