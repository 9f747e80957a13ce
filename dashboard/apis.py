"""The read API: a client's dashboard figures and its stored logs, for its own BI.

Authenticated by the client's API key with the ``read`` scope, throttled per key and per
client like ingestion, answering errors in the collector's one JSON shape (its
authentication, throttles and exception handler are the API's defaults). The figures come
from the very selector the dashboard page calls, so the API and the page cannot disagree.
It lives in the dashboard (mounted under /api/v1/ by flusso_site/urls.py) because it reads
the dashboard's selectors; the collector never imports the dashboard.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collector.models import Client, WorkflowLog
from collector.openapi import DEMO_CLIENT_SLUG, EXAMPLE_LOG
from collector.permissions import ReadScope
from collector.selectors import log_get
from collector.serializers import ApiErrorSerializer
from dashboard.forms import DashboardFilterForm
from dashboard.reviews.selectors import verdicts_for_logs
from dashboard.selectors import KpiValues, Window, client_kpis
from dashboard.selectors.verdicts import VerdictFigures, client_verdict_figures
from dashboard.serializers import LogReadSerializer, StatsQuerySerializer, StatsSerializer
from flusso_site.errors import ApplicationError, NotFound
from flusso_site.routers import replica_reads


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ApiErrorSerializer, description=description)


_READ_ERRORS = {
    401: _error("Missing, unknown, revoked or expired API key."),
    403: _error("The key lacks the 'read' scope (missing_scope), or the client is inactive."),
    429: _error("Over the per-key rate limit or the client's concurrent requests."),
    503: _error("Database unavailable; retry after Retry-After seconds."),
}


class LogNotFound(NotFound):
    def __init__(self) -> None:
        # The same answer for a log of another client as for none: nothing says it exists.
        super().__init__("The client has no log with this log_id.")


def _form_errors(form: DashboardFilterForm) -> dict[str, list[str]]:
    """The form's errors by parameter. A range error ("needs a start and an end") that
    only follows from an invalid date is left out: the date's own error names it."""
    errors = {name: list(messages) for name, messages in form.errors.items()}
    whole = errors.pop("__all__", None)
    if whole and not errors:
        errors["non_field_errors"] = whole
    return errors


def _figures(values: KpiValues, window: Window) -> dict[str, Any]:
    return {
        "start": window.start,
        "end": window.end,
        "runs": values.runs,
        "successes": values.successes,
        "success_rate": values.success_rate,
        "escalations": values.escalations,
        "escalation_rate": values.escalation_rate,
        "avg_confidence": values.avg_confidence,
        "avg_hallucination_risk": values.avg_hallucination_risk,
        "median_execution_seconds": values.median_execution_seconds,
        "p95_execution_seconds": values.p95_execution_seconds,
        "avg_react_iterations": values.avg_react_iterations,
    }


def _verdict_figures(figures: VerdictFigures) -> dict[str, Any]:
    return {
        "reviewed": figures.reviewed,
        "judged_correct": figures.judged_correct,
        "judged_correct_share": figures.share,
        "judged_correct_low": figures.low,
        "judged_correct_high": figures.high,
        "enough_reviews": figures.enough,
        "successes_reviewed": figures.successes_reviewed,
        "successes_judged_incorrect": figures.successes_incorrect,
        "escalations_reviewed": figures.escalations_reviewed,
        "needless_escalations": figures.needless_escalations,
    }


_EXAMPLE_FIGURES = {
    "runs": 214,
    "successes": 171,
    "success_rate": 0.7990654205607477,
    "escalations": 21,
    "escalation_rate": 0.09813084112149532,
    "avg_confidence": 0.781,
    "avg_hallucination_risk": 0.142,
    "median_execution_seconds": 4.61,
    "p95_execution_seconds": 11.9,
    "avg_react_iterations": 4.2,
}
_EXAMPLE_STATS = {
    "client_id": DEMO_CLIENT_SLUG,
    "period": "7d",
    "environment": "",
    "version": "",
    "current": {
        "start": "2026-11-24T09:00:00+00:00",
        "end": "2026-12-01T09:00:00+00:00",
        **_EXAMPLE_FIGURES,
    },
    "previous": {
        "start": "2026-11-17T09:00:00+00:00",
        "end": "2026-11-24T09:00:00+00:00",
        **_EXAMPLE_FIGURES,
        "runs": 198,
        "successes": 166,
        "success_rate": 0.8383838383838383,
    },
    "verdicts": {
        "reviewed": 40,
        "judged_correct": 33,
        "judged_correct_share": 0.825,
        "judged_correct_low": 0.6805,
        "judged_correct_high": 0.9126,
        "enough_reviews": True,
        "successes_reviewed": 31,
        "successes_judged_incorrect": 3,
        "escalations_reviewed": 6,
        "needless_escalations": 2,
    },
}


@method_decorator(replica_reads, name="get")  # as the dashboard pages read
class StatsApi(APIView):
    permission_classes = [IsAuthenticated, ReadScope]

    @extend_schema(
        operation_id="stats_retrieve",
        summary="The dashboard's KPI figures for the key's client",
        description=(
            "The figures of the client dashboard's KPI cards, for the window and for the "
            "window of the same length before it, and what the client's reviewers judged "
            "of the window's runs (verdicts), computed from the read model by the same "
            "selectors as the page. Takes the dashboard's period, environment and version "
            "(and its custom start and end); an invalid value is a 400 naming it. Needs a "
            "key with the read scope."
        ),
        parameters=[StatsQuerySerializer],
        responses={
            200: StatsSerializer,
            400: _error("An invalid parameter, named in error.fields."),
            **_READ_ERRORS,
        },
        examples=[OpenApiExample("The last 7 days", value=_EXAMPLE_STATS, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        form = DashboardFilterForm(request.query_params)
        if not form.is_valid():
            raise ApplicationError("The query has invalid parameters.", fields=_form_errors(form))
        client = request.user.client
        filters = form.filters(now=timezone.now())
        kpis = client_kpis(client=client, filters=filters)
        body = {
            "client_id": client.slug,
            "period": form.cleaned_data["period"],
            "environment": filters.environment,
            "version": filters.version,
            "current": _figures(kpis.current, filters.window),
            "previous": _figures(kpis.previous, filters.window.previous),
            "verdicts": _verdict_figures(client_verdict_figures(client=client, filters=filters)),
        }
        return Response(StatsSerializer(body).data)


_EXAMPLE_READ_LOG = {
    "log_id": EXAMPLE_LOG["log_id"],
    "client_id": DEMO_CLIENT_SLUG,
    "ticket_id": "12345",
    "status": "SUCCESS",
    "environment": "production",
    "workflow_version": "v1.0",
    "timestamp": "2026-11-20T09:14:09.940000Z",
    "received_at": "2026-11-20T09:14:10.212000Z",
    "execution_time_seconds": 4.82,
    "react_iterations": 5,
    "overall_confidence": 0.82,
    "hallucination_risk": 0.12,
    "product_confidence": 0.91,
    "vision_matches": 4,
    "text_matches": 10,
    "error_type": "",
    "error_node": "",
    "error_message": "",
    "document": EXAMPLE_LOG,
    "verdict": {
        "kind": "incorrect",
        "note": "Quoted the old return window.",
        "better_answer": "Returns are accepted within 30 days of delivery.",
        "author": "maria",
        "created_at": "2026-11-21T10:02:00Z",
        "updated_at": "2026-11-21T10:02:00Z",
    },
}


@method_decorator(replica_reads, name="get")
class LogReadApi(APIView):
    permission_classes = [IsAuthenticated, ReadScope]

    @extend_schema(
        operation_id="logs_retrieve",
        summary="One of the client's stored logs, by its log_id",
        description=(
            "The log as stored (after scrubbing), with its typed columns, when it was "
            "received and the run's current verdict from the client's reviewers (or null). "
            "A log_id the key's client has not sent, or that is not a UUID, is a "
            "404. Needs a key with the read scope."
        ),
        parameters=[
            OpenApiParameter(
                "log_id",
                OpenApiTypes.UUID,
                OpenApiParameter.PATH,
                description="The log_id the log was sent with (or was given on ingestion).",
            )
        ],
        responses={
            200: LogReadSerializer,
            404: _error("The client has no log with this log_id."),
            **_READ_ERRORS,
        },
        examples=[
            OpenApiExample("A stored run", value=_EXAMPLE_READ_LOG, response_only=True),
        ],
    )
    def get(self, request: Request, log_id: str) -> Response:
        client = request.user.client
        log = _log_for_client(client=client, log_id=log_id)
        verdict = verdicts_for_logs(client=client, log_ids=[log.log_id]).get(log.log_id)
        return Response(LogReadSerializer(log, context={"client": client, "verdict": verdict}).data)


def _log_for_client(*, client: Client, log_id: str) -> WorkflowLog:
    try:
        parsed = uuid.UUID(log_id)
    except ValueError:
        raise LogNotFound() from None
    log = log_get(client=client, log_id=parsed)
    if log is None:
        raise LogNotFound()
    return log
