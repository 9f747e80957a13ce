"""Reads of the collector's data."""

from __future__ import annotations

import uuid

from collector.models import ApiKey, Client, LogReceipt, WorkflowLog


def api_key_get_for_auth(*, prefix: str) -> ApiKey | None:
    """The key with this public prefix, with its client, in one query."""
    return ApiKey.objects.select_related("client").filter(prefix=prefix).first()


def api_key_get_by_prefix(*, prefix: str) -> ApiKey | None:
    return ApiKey.objects.filter(prefix=prefix).first()


def client_get_by_slug(*, slug: str) -> Client | None:
    return Client.objects.filter(slug=slug).first()


def log_get(*, client: Client, log_id: uuid.UUID) -> WorkflowLog | None:
    """The client's log with this log_id. Its receipt holds the timestamp, which names the
    one partition to look in (PostgreSQL), instead of probing every month."""
    timestamp = (
        LogReceipt.objects.for_client(client)
        .filter(log_id=log_id)
        .values_list("timestamp", flat=True)
        .first()
    )
    if timestamp is None:
        return None
    return WorkflowLog.objects.for_client(client).filter(log_id=log_id, timestamp=timestamp).first()
