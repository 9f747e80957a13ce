"""The read API's answers (``dashboard.apis``): what a client's key may read of its data.

Serializers here only describe and format what selectors returned; they never query.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collector.models import WorkflowLog
from dashboard.forms import DEFAULT_PERIOD, PERIODS
from dashboard.reviews.models import VerdictKind
from dashboard.reviews.selectors import user_label


class StatsQuerySerializer(serializers.Serializer):
    """The query parameters of ``GET /api/v1/stats``, for the schema only: they are
    validated by the dashboard's own ``DashboardFilterForm``, so the page and the API
    accept and refuse the same values."""

    period = serializers.ChoiceField(
        choices=[*PERIODS, "custom"],
        required=False,
        allow_blank=True,
        default=DEFAULT_PERIOD,
        help_text=(
            "A window ending now (24h, 7d, 30d, 90d), or custom: start and end dates. "
            "A start without a period means custom."
        ),
    )
    start = serializers.DateField(
        required=False,
        help_text="First day of a custom range (YYYY-MM-DD, in the service's time zone).",
    )
    end = serializers.DateField(
        required=False, help_text="Last day of a custom range, included (at most 731 days)."
    )
    environment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Only runs of this environment (empty: all).",
    )
    version = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Only runs of this workflow version (empty: all).",
    )


class KpiFiguresSerializer(serializers.Serializer):
    """One window's KPI cards, as the dashboard computes them (``KpiValues``)."""

    start = serializers.DateTimeField(help_text="The window's first instant (included).")
    end = serializers.DateTimeField(help_text="The window's end (excluded).")
    runs = serializers.IntegerField(
        help_text="Runs in the window (the 'Runs' card; a ticket run twice counts twice)."
    )
    successes = serializers.IntegerField(help_text="Runs with status SUCCESS.")
    success_rate = serializers.FloatField(allow_null=True, help_text="successes / runs.")
    escalations = serializers.IntegerField(help_text="Runs with status ESCALATED.")
    escalation_rate = serializers.FloatField(allow_null=True, help_text="escalations / runs.")
    avg_confidence = serializers.FloatField(allow_null=True)
    avg_hallucination_risk = serializers.FloatField(allow_null=True)
    median_execution_seconds = serializers.FloatField(
        allow_null=True, help_text="Within 2 % of the exact median (read model histogram)."
    )
    p95_execution_seconds = serializers.FloatField(
        allow_null=True, help_text="Within 2 % of the exact 95th percentile."
    )
    avg_react_iterations = serializers.FloatField(allow_null=True)


class VerdictFiguresSerializer(serializers.Serializer):
    """What the client's reviewers judged of the window's runs (the dashboard's "Judged
    by your reviewers" card, ``VerdictFigures``)."""

    reviewed = serializers.IntegerField(help_text="Runs of the window with a verdict.")
    judged_correct = serializers.IntegerField(help_text="Of those, judged correct.")
    judged_correct_share = serializers.FloatField(
        allow_null=True, help_text="judged_correct / reviewed (null without reviews)."
    )
    judged_correct_low = serializers.FloatField(
        allow_null=True, help_text="Lower end of its 95 % Wilson interval."
    )
    judged_correct_high = serializers.FloatField(
        allow_null=True, help_text="Upper end of its 95 % Wilson interval."
    )
    enough_reviews = serializers.BooleanField(
        help_text="Whether there are enough reviews for the page to show the share."
    )
    successes_reviewed = serializers.IntegerField(help_text="Reviewed runs with status SUCCESS.")
    successes_judged_incorrect = serializers.IntegerField(help_text="Of those, judged incorrect.")
    escalations_reviewed = serializers.IntegerField(
        help_text="Reviewed runs with status ESCALATED."
    )
    needless_escalations = serializers.IntegerField(
        help_text="Of those, judged escalated needlessly."
    )


class StatsSerializer(serializers.Serializer):
    client_id = serializers.CharField(help_text="The key's client (its slug).")
    period = serializers.ChoiceField(choices=[*PERIODS, "custom"])
    environment = serializers.CharField(help_text="The environment filter; empty for all.")
    version = serializers.CharField(help_text="The version filter; empty for all.")
    current = KpiFiguresSerializer()
    previous = KpiFiguresSerializer(
        help_text="The window of the same length just before: the cards' change."
    )
    verdicts = VerdictFiguresSerializer(help_text="Verdicts on the current window's runs.")


class VerdictReadSerializer(serializers.Serializer):
    """A run's current verdict, as its page shows it."""

    kind = serializers.ChoiceField(choices=VerdictKind.choices)
    note = serializers.CharField(help_text="As stored: scrubbed of addresses and secrets.")
    better_answer = serializers.CharField(help_text="Only for an incorrect answer.")
    author = serializers.CharField(
        help_text="Who recorded it: a username that is not an e-mail address, else 'user <id>'."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class LogReadSerializer(serializers.ModelSerializer):
    """A stored log: its typed columns, when it arrived, and the document as stored (after
    scrubbing). Never the row's id, which would count every client's logs."""

    client_id = serializers.SerializerMethodField(help_text="The client's slug.")
    document = serializers.JSONField(
        help_text="The log as stored: the document sent, after scrubbing of secrets."
    )
    verdict = serializers.SerializerMethodField(
        help_text="The run's current verdict from the client's reviewers, or null."
    )

    class Meta:
        model = WorkflowLog
        fields = [
            "log_id",
            "client_id",
            "ticket_id",
            "status",
            "environment",
            "workflow_version",
            "timestamp",
            "received_at",
            "execution_time_seconds",
            "react_iterations",
            "overall_confidence",
            "hallucination_risk",
            "product_confidence",
            "vision_matches",
            "text_matches",
            "error_type",
            "error_node",
            "error_message",
            "document",
            "verdict",
        ]
        read_only_fields = fields

    def get_client_id(self, log: WorkflowLog) -> str:
        # The view's client (the key's): the same as the log's, without a query for it.
        return self.context["client"].slug

    @extend_schema_field(VerdictReadSerializer(allow_null=True))
    def get_verdict(self, log: WorkflowLog) -> dict[str, Any] | None:
        # The view's selector read it; a serializer never queries.
        verdict = self.context.get("verdict")
        if verdict is None:
            return None
        return VerdictReadSerializer(
            {
                "kind": verdict.kind,
                "note": verdict.note,
                "better_answer": verdict.better_answer,
                "author": user_label(verdict.author),
                "created_at": verdict.created_at,
                "updated_at": verdict.updated_at,
            }
        ).data
