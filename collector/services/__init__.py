"""Writes of the collector, by topic.

- ``clients``: clients and API keys.
- ``ingest``: documents scrubbed, validated and stored once, with their rollup deltas.
- ``retention``: logs past their client's retention, and the rollups with them.
"""

from collector.services.clients import (
    api_key_create,
    api_key_mark_used,
    api_key_revoke,
    api_key_revoked_use_record,
    api_key_scopes_parse,
    client_create,
)
from collector.services.ingest import (
    BatchIngestResult,
    LogIngestResult,
    log_batch_ingest,
    log_ingest,
)
from collector.services.retention import PruneReport, logs_prune
from collector.services.store import logs_store

__all__ = [
    "BatchIngestResult",
    "LogIngestResult",
    "PruneReport",
    "api_key_create",
    "api_key_mark_used",
    "api_key_revoke",
    "api_key_revoked_use_record",
    "api_key_scopes_parse",
    "client_create",
    "log_batch_ingest",
    "log_ingest",
    "logs_prune",
    "logs_store",
]
