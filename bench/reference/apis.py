"""The bare DRF reference endpoints the ingestion benchmark measures Flusso against.

What a plain DRF ingestion endpoint does: find the key by its prefix and compare the
secret, validate with a plain serializer, insert one row (or ``bulk_create`` a batch).
No throttling, scrubbing, idempotency or rollups.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.reference.models import BareLog
from collector.keys import key_parse, secret_matches
from collector.models import ApiKey
from collector.serializers import LogDocumentSerializer


class _Principal:
    is_authenticated = True

    def __init__(self, api_key: ApiKey) -> None:
        self.client = api_key.client


class PrefixKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[_Principal, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parsed = key_parse(header.partition(" ")[2].strip())
        api_key = (
            ApiKey.objects.select_related("client").filter(prefix=parsed.prefix).first()
            if parsed
            else None
        )
        if api_key is None or not secret_matches(parsed.secret, api_key.secret_hash):
            raise AuthenticationFailed("bad key")
        return _Principal(api_key), api_key


def _row(client: Any, document: dict[str, Any], data: dict[str, Any]) -> BareLog:
    metrics = data.get("metrics") or {}
    error = data.get("error") or {}
    now = timezone.now()
    return BareLog(
        client=client,
        log_id=data["log_id"],
        ticket_id=data["ticket_id"],
        environment=data["environment"],
        status=data["status"],
        workflow_version=data.get("workflow_version", ""),
        timestamp=data.get("timestamp") or now,
        received_at=now,
        execution_time_seconds=data.get("execution_time_seconds"),
        react_iterations=metrics.get("react_iterations"),
        overall_confidence=metrics.get("overall_confidence"),
        hallucination_risk=metrics.get("hallucination_risk"),
        product_confidence=metrics.get("product_confidence"),
        vision_matches=metrics.get("vision_matches"),
        text_matches=metrics.get("text_matches"),
        error_type=error.get("type", ""),
        error_node=error.get("node", ""),
        error_message=error.get("message", "")[:500],
        document=document,
    )


class BareLogApi(APIView):
    authentication_classes = [PrefixKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list[type] = []
    parser_classes = [JSONParser]

    def post(self, request: Request) -> Response:
        serializer = LogDocumentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = _row(request.user.client, request.data, serializer.validated_data)
        row.save()
        return Response({"id": row.id, "status": "created"}, status=201)


class BareBatchApi(APIView):
    authentication_classes = [PrefixKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list[type] = []
    parser_classes = [JSONParser]

    def post(self, request: Request) -> Response:
        rows = []
        for document in request.data["logs"]:
            serializer = LogDocumentSerializer(data=document)
            serializer.is_valid(raise_exception=True)
            rows.append(_row(request.user.client, document, serializer.validated_data))
        BareLog.objects.bulk_create(rows)
        return Response({"created": len(rows)})
