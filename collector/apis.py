"""The ingestion API: thin views that parse, call one service or selector, and answer."""

from __future__ import annotations

from typing import Any

from django.db import connection
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collector.openapi import EXAMPLE_LOG
from collector.parsers import body_bytes, body_framing_check
from collector.permissions import IngestScope
from collector.serializers import (
    ApiErrorSerializer,
    HealthSerializer,
    LogBatchResponseSerializer,
    LogBatchSerializer,
    LogDocumentSerializer,
    LogIngestResponseSerializer,
    WhoamiSerializer,
    batch_documents,
)
from collector.services import log_batch_ingest, log_ingest


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ApiErrorSerializer, description=description)


_COMMON_ERRORS = {
    400: _error(
        "Invalid JSON, invalid fields or unstorable text (named in error.fields), a body "
        "shorter than its Content-Length, or a chunked body without one."
    ),
    401: _error("Missing, unknown, revoked or expired API key."),
    403: _error(
        "Inactive client, client_id differs from the key's client, or the key lacks the "
        "'ingest' scope (missing_scope)."
    ),
    405: _error("Method not allowed."),
    413: _error("Body larger than the limit (after gzip decompression)."),
    415: _error(
        "Content-Type is not application/json, a charset other than UTF-8, or an "
        "unsupported Content-Encoding."
    ),
    429: _error("Over the per-key rate limit; see the Retry-After header."),
    503: _error("Database unavailable; retry after Retry-After seconds."),
}


class _IngestApi(APIView):
    """What both ingestion endpoints check before the body is read."""

    permission_classes = [IsAuthenticated, IngestScope]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        body_framing_check(request.META)


class LogIngestApi(_IngestApi):
    max_body_setting = "INGEST_MAX_DOCUMENT_BYTES"

    @extend_schema(
        operation_id="logs_create",
        summary="Store one workflow log",
        description=(
            "Stores one log. Sending a log_id the client has already sent stores nothing "
            "and answers 200 with status 'duplicate', so retries never double-count. "
            "Accepts Content-Encoding: gzip."
        ),
        request=LogDocumentSerializer,
        responses={
            201: LogIngestResponseSerializer,
            200: OpenApiResponse(LogIngestResponseSerializer, description="Duplicate log_id."),
            **_COMMON_ERRORS,
        },
        examples=[OpenApiExample("A successful run", value=EXAMPLE_LOG, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        result = log_ingest(client=request.user.client, document=request.data)
        return Response(
            LogIngestResponseSerializer(result).data,
            status=201 if result.status == "created" else 200,
        )


class LogBatchIngestApi(_IngestApi):
    max_body_setting = "INGEST_MAX_BATCH_BYTES"
    # The parser rejects unstorable text per document of this list (collector/parsers.py).
    batch_field = LogBatchSerializer.DOCUMENTS_FIELD

    @extend_schema(
        operation_id="logs_batch_create",
        summary="Store a batch of workflow logs",
        description=(
            "Stores up to INGEST_MAX_BATCH_SIZE (default 500) logs in one transaction. "
            "Each invalid document is reported by index with its field errors while the "
            "valid ones are stored; duplicates are counted, not stored again. Only a "
            "malformed envelope (400) or a client_id that is not the key's client (403) "
            "refuses the whole batch."
        ),
        request=LogBatchSerializer,
        responses={200: LogBatchResponseSerializer, **_COMMON_ERRORS},
    )
    def post(self, request: Request) -> Response:
        documents = batch_documents(request.data)
        result = log_batch_ingest(
            client=request.user.client, documents=documents, body_bytes=body_bytes(request)
        )
        return Response(LogBatchResponseSerializer(result).data)


class HealthApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    @extend_schema(
        operation_id="health",
        summary="Liveness and database check, for load balancers",
        auth=[],
        responses={200: HealthSerializer, 503: _error("The database is unavailable.")},
    )
    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return Response(HealthSerializer({"status": "ok", "database": "ok"}).data)


class WhoamiApi(APIView):
    @extend_schema(
        operation_id="whoami",
        summary="Which client and key this request authenticates as",
        responses={
            200: WhoamiSerializer,
            401: _COMMON_ERRORS[401],
            403: _error("Inactive client."),
        },
    )
    def get(self, request: Request) -> Response:
        client = request.user.client
        api_key = request.user.api_key
        return Response(
            WhoamiSerializer(
                {
                    "client_id": client.slug,
                    "client_name": client.name,
                    "key_prefix": api_key.prefix,
                    "key_label": api_key.label,
                    "scopes": api_key.scopes,
                }
            ).data
        )
