"""Reads of the collector's data."""

from __future__ import annotations

import uuid

from collector.models import ApiKey, Client, WorkflowLog


def api_key_get_for_auth(*, prefix: str) -> ApiKey | None:
    """The key with this public prefix, with its client, in one query."""
    return ApiKey.objects.select_related("client").filter(prefix=prefix).first()


def api_key_get_by_prefix(*, prefix: str) -> ApiKey | None:
    return ApiKey.objects.filter(prefix=prefix).first()


def client_get_by_slug(*, slug: str) -> Client | None:
    return Client.objects.filter(slug=slug).first()


def log_get(*, client: Client, log_id: uuid.UUID) -> WorkflowLog | None:
    return WorkflowLog.objects.filter(client=client, log_id=log_id).first()
