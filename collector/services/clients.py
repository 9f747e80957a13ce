"""Writes of the collector's clients and API keys."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone

from collector.keys import key_generate
from collector.models import ApiKey, Client
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


def api_key_create(
    *, client: Client, label: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for the client, as (row, full key). The full key is never stored."""
    while True:
        raw_key, prefix, secret_hash = key_generate()
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    api_key = ApiKey.objects.create(
        client=client, label=label, prefix=prefix, secret_hash=secret_hash, expires_at=expires_at
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey, now: datetime | None = None) -> ApiKey:
    """Revoke the key from now on; revoking twice keeps the first time."""
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


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
