"""The ingestion API: Django REST Framework, its schema and the collector's limits."""

from __future__ import annotations

from flusso_site.env import env_int, env_str

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["collector.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "collector.throttling.ApiKeyRateThrottle",
        # Needs collector.fairness.ClientSlotMiddleware (settings/base.py).
        "collector.fairness.ClientConcurrencyThrottle",
    ],
    "DEFAULT_PARSER_CLASSES": ["collector.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "collector.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Flusso collector API",
    "DESCRIPTION": (
        "Ingestion and read API for the logs of Flusso's AI support workflow. Authenticate "
        "with `Authorization: Bearer <key>` or `X-API-Key: <key>`: sending logs needs a key "
        "with the ingest scope, reading (stats, a log) one with the read scope. Every error "
        "answers "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page must work on a closed network: swagger-ui comes from our static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # A log's status is one enum wherever it appears (sent, and read back).
    "ENUM_NAME_OVERRIDES": {"LogStatusEnum": "collector.models.LogStatus"},
}

# Largest request body (after gzip decompression) for one document, and for a batch.
# 1 MiB fits a long ReAct trace many times over; the shipper trims its own at 256 KiB.
INGEST_MAX_DOCUMENT_BYTES = env_int("INGEST_MAX_DOCUMENT_BYTES", 1024 * 1024, minimum=1024)
INGEST_MAX_BATCH_BYTES = env_int("INGEST_MAX_BATCH_BYTES", 10 * 1024 * 1024, minimum=1024)
# Documents per batch: bounded so one request holds one short transaction.
INGEST_MAX_BATCH_SIZE = env_int("INGEST_MAX_BATCH_SIZE", 500, minimum=1)
# Requests per key; sized for a busy deployment (100 a second) so only a runaway meets it.
INGEST_RATE_LIMIT = env_str("INGEST_RATE_LIMIT", "6000/minute")
# Requests of one client served at once (collector/fairness.py); past it 429 + Retry-After.
# Small, so that one client cannot take the threads every other client, the health check
# and the dashboards need (2 cores run 4 workers of 4 threads). Shared by every worker
# with REDIS_URL. Without it each worker process counts alone, so the default stays below
# one process's threads (GUNICORN_THREADS, which gunicorn.conf.py reads from the same
# environment): a client then holds at most half of each process, and a check warns.
# 0 turns it off.
_SHARED_COUNT = bool(env_str("REDIS_URL", ""))
_THREADS = env_int("GUNICORN_THREADS", 4, minimum=1)
INGEST_MAX_CONCURRENT_PER_CLIENT = env_int(
    "INGEST_MAX_CONCURRENT_PER_CLIENT", 4 if _SHARED_COUNT else max(1, _THREADS // 2)
)
# A slot a killed worker never gave back frees itself after this long: longer than any
# request takes (a full batch takes about a second).
INGEST_SLOT_TTL_SECONDS = env_int("INGEST_SLOT_TTL_SECONDS", 30, minimum=1)
# last_used_at is written at most this often per key, keeping writes off the hot path.
API_KEY_LAST_USED_RESOLUTION_SECONDS = env_int("API_KEY_LAST_USED_RESOLUTION_SECONDS", 60)
# A revoked key presented to the API is recorded at most once per key this often: the
# audit trail shows it is still in use and from where, a flood of replays writes little.
API_KEY_REVOKED_USE_EVENT_SECONDS = env_int("API_KEY_REVOKED_USE_EVENT_SECONDS", 60, minimum=1)
# Each ingesting process merges the read model's pending delta rows at most this often,
# after a response has been sent (docs/dashboard.md, "The read model"); -1 turns it off
# (deltas are then merged by prune_logs and rebuild_rollups only).
ROLLUP_COMPACT_INTERVAL_SECONDS = env_int("ROLLUP_COMPACT_INTERVAL_SECONDS", 2, minimum=-1)
