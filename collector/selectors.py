"""Reads of the collector's data."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.utils import timezone

from collector.db import server_bound_fetch
from collector.models import ApiKey, Client, LogReceipt, WorkflowLog
from collector.readmodel import reads


@cache
def _auth_sql(vendor: str) -> str:
    """The key lookup's statement, written once per database kind: the ORM compiled the
    same join on every request (about a tenth of a single log's CPU), and one fixed text
    is what PostgreSQL prepares after a few runs."""
    quote = connections[router.db_for_read(ApiKey) or "default"].ops.quote_name
    key_columns = ", ".join(f"k.{quote(f.column)}" for f in ApiKey._meta.concrete_fields)
    client_columns = ", ".join(f"c.{quote(f.column)}" for f in Client._meta.concrete_fields)
    tables = (
        f"{quote(ApiKey._meta.db_table)} k JOIN {quote(Client._meta.db_table)} c "
        f"ON c.{quote(Client._meta.pk.column)} = k.{quote(ApiKey._meta.get_field('client').column)}"
    )
    # Names from the models' metadata, quoted; the prefix is a bound parameter.
    select = f"SELECT {key_columns}, {client_columns} FROM {tables}"  # noqa: S608
    return f"{select} WHERE k.{quote('prefix')} = %s"


def _converters(connection: BaseDatabaseWrapper, model: type[Model]) -> tuple[tuple, ...]:
    """Per column: the field's expression and the converters the ORM would apply (SQLite
    returns datetimes as text and booleans as integers). Kept on the connection (one per
    thread and database, and gone with it), so the key lookup does not work them out on
    every request."""
    kept: dict[type[Model], tuple[tuple, ...]] | None = getattr(
        connection, "_flusso_converters", None
    )
    if kept is None:
        kept = connection._flusso_converters = {}  # type: ignore[attr-defined]
    found = kept.get(model)
    if found is None:
        columns = []
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column)
            columns.append((column, converters + field.get_db_converters(connection)))
        found = kept[model] = tuple(columns)
    return found


def _instance(
    connection: BaseDatabaseWrapper, alias: str, model: type[Model], values: Sequence[Any]
) -> Any:
    converted = []
    for value, (column, converters) in zip(values, _converters(connection, model), strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(alias, [f.attname for f in model._meta.concrete_fields], converted)


def api_key_get_for_auth(*, prefix: str) -> ApiKey | None:
    """The key with this public prefix, with its client, in one query: what
    ``ApiKey.objects.select_related("client").filter(prefix=prefix).first()`` gives."""
    alias = router.db_for_read(ApiKey) or "default"
    connection = connections[alias]
    # On PostgreSQL prepared once per connection, not parsed and planned on every request.
    rows = server_bound_fetch(connection, _auth_sql(connection.vendor), [prefix])
    if not rows:
        return None
    row = rows[0]
    split = len(ApiKey._meta.concrete_fields)
    api_key = _instance(connection, alias, ApiKey, row[:split])
    client = _instance(connection, alias, Client, row[split:])
    ApiKey._meta.get_field("client").set_cached_value(api_key, client)
    return api_key


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


@dataclass(frozen=True)
class ClientLogFigures:
    logs: int = 0
    last_log_at: dt.datetime | None = None


# Bounds of "every log": hour-aligned, so the read model answers without a raw edge.
_EVER = reads.Span(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(3000, 1, 1, tzinfo=dt.UTC))


def client_log_figures_unscoped(
    *, client_ids: Sequence[int], now: dt.datetime | None = None
) -> dict[int, ClientLogFigures]:
    """How many logs each client has and when its newest (up to now) was, from the read
    model (the admin's client list): two grouped rollup queries and the current hour's raw
    logs, never a count over the log table. NOT scoped to a user."""
    if not client_ids:
        return {}
    now = now or timezone.now()
    with reads.read_snapshot():
        counts = reads.totals_by_client(client_ids, {"ever": _EVER}, ("runs",))
        newest = reads.last_log_by_client_environment(client_ids, reads.Span(_EVER.start, now))
    last: dict[int, dt.datetime] = {}
    for (client_id, _environment), moment in newest.items():
        if client_id not in last or moment > last[client_id]:
            last[client_id] = moment
    return {
        client_id: ClientLogFigures(
            logs=int(counts[client_id]["ever"]["runs"]) if client_id in counts else 0,
            last_log_at=last.get(client_id),
        )
        for client_id in client_ids
    }
