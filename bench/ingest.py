"""Ingestion cost beside its references, in one run (a script, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flusso_bench .venv/bin/python bench/ingest.py

Measures, on the configured database (PostgreSQL for numbers that mean anything):
- one log through the real API view (auth, throttle, parse, scrub, validate, insert,
  commit) beside a bare DRF endpoint that parses the same body and answers, no database;
- a batch of 500 through the real API view beside raw psycopg inserts of the same 500 rows
  (executemany in one transaction), the floor the database sets.
Views are called through DRF's request factory, so middleware is left out of both sides.
Numbers are recorded in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flusso_site.settings.service")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "*")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from rest_framework.permissions import AllowAny  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from collector.apis import LogBatchIngestApi, LogIngestApi  # noqa: E402
from collector.models import WorkflowLog  # noqa: E402
from collector.services import api_key_create, client_create  # noqa: E402
from collector.tests.factories import log_document  # noqa: E402

SINGLE_RUNS = 400
BATCH_RUNS = 15
BATCH_SIZE = 500


class BareApi(APIView):
    """The reference: DRF parsing the same JSON body and answering, nothing else."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    def post(self, request: Any) -> Response:
        return Response({"ok": bool(request.data)}, status=201)


def median_ms(fn: Any, runs: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    call_command("migrate", verbosity=0)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    client = client_create(slug=slug, name="Bench")
    _, raw_key = api_key_create(client=client, label="bench")
    factory = APIRequestFactory()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    bare, single, batch = BareApi.as_view(), LogIngestApi.as_view(), LogBatchIngestApi.as_view()

    def post(view: Any, payload: Any, **extra: str) -> None:
        body = json.dumps(payload)
        response = view(factory.post("/", body, content_type="application/json", **extra))
        assert response.status_code in (200, 201), response.data

    bare_ms = median_ms(lambda: post(bare, log_document()), SINGLE_RUNS)
    single_ms = median_ms(lambda: post(single, log_document(), **auth), SINGLE_RUNS)

    batch_ms = median_ms(
        lambda: post(batch, {"logs": [log_document() for _ in range(BATCH_SIZE)]}, **auth),
        BATCH_RUNS,
    )

    columns = [f.column for f in WorkflowLog._meta.concrete_fields if f.column != "id"]
    sql = (
        f"INSERT INTO {WorkflowLog._meta.db_table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )

    def raw_rows() -> list[tuple[Any, ...]]:
        rows = []
        for _ in range(BATCH_SIZE):
            doc = log_document()
            metrics = doc["metrics"]
            values = {
                "client_id": client.pk,
                "log_id": doc["log_id"],
                "ticket_id": doc["ticket_id"],
                "environment": "production",
                "status": "SUCCESS",
                "workflow_version": "v1.0",
                "timestamp": doc["timestamp"],
                "received_at": doc["timestamp"],
                "execution_time_seconds": doc["execution_time_seconds"],
                "error_type": "",
                "error_node": "",
                "error_message": "",
                "document": json.dumps(doc),
                **metrics,
            }
            rows.append(tuple(values[c] for c in columns))
        return rows

    def raw_insert() -> None:
        rows = raw_rows()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    raw_ms = median_ms(raw_insert, BATCH_RUNS)

    vendor = connection.vendor
    print(f"database: {vendor}; medians over {SINGLE_RUNS} single and {BATCH_RUNS} batch runs")
    print(f"bare DRF endpoint (parse + answer)   {bare_ms:8.2f} ms")
    print(
        f"POST /api/v1/logs (all the work)     {single_ms:8.2f} ms  "
        f"({single_ms / bare_ms:.1f}x the bare endpoint)"
    )
    print(
        f"raw inserts of {BATCH_SIZE} rows             {raw_ms:8.2f} ms  "
        f"({BATCH_SIZE / raw_ms * 1000:,.0f} logs/s)"
    )
    print(
        f"POST /api/v1/logs/batch of {BATCH_SIZE}      {batch_ms:8.2f} ms  "
        f"({BATCH_SIZE / batch_ms * 1000:,.0f} logs/s, {raw_ms / batch_ms:.0%} of raw inserts)"
    )
    WorkflowLog.objects.filter(client=client).delete()
    client.delete()


if __name__ == "__main__":
    main()
