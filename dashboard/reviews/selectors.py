"""Reads of verdicts: one run's verdict and history, verdicts for a chunk of runs, and
the review queue of runs nobody has judged yet."""

from __future__ import annotations

import bisect
import datetime as dt
import random
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from collector.models import Client, LogStatus, WorkflowLog, metric_sort_expression
from collector.readmodel import reads
from dashboard.reviews.models import Verdict
from dashboard.selectors.stats import DashboardFilters

# What "looks like an e-mail address" for a display name: never shown or exported.
_EMAIL_LIKE = re.compile(r"@")


def user_label(user: AbstractBaseUser | None) -> str:
    """How a verdict names its author: the username unless it is an e-mail address
    (usernames are often the e-mail), else "user <id>"; "deleted user" when gone."""
    if user is None:
        return "deleted user"
    username = user.get_username()
    if username and not _EMAIL_LIKE.search(username):
        return username
    return f"user {user.pk}"


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    kind: str
    kind_label: str
    note: str
    better_answer: str
    actor_id: int | None
    who: str


@dataclass(frozen=True)
class VerdictView:
    verdict: Verdict | None
    author: str
    history: list[HistoryEntry]


def verdict_for_log(*, client: Client, log_id: uuid.UUID) -> VerdictView:
    """The run's current verdict (or None), its author's label and its history, newest
    first."""
    verdict = (
        Verdict.objects.for_client(client).filter(log_id=log_id).select_related("author").first()
    )
    if verdict is None:
        return VerdictView(verdict=None, author="", history=[])
    events = verdict.events.select_related("actor").order_by("-at", "-id")
    history = [
        HistoryEntry(
            at=event.at,
            kind=event.kind,
            kind_label=event.get_kind_display(),
            note=event.note,
            better_answer=event.better_answer,
            actor_id=event.actor_id,
            who=user_label(event.actor),
        )
        for event in events
    ]
    return VerdictView(verdict=verdict, author=user_label(verdict.author), history=history)


def verdicts_for_logs(
    *, client: Client | int, log_ids: Iterable[uuid.UUID], using: str = "default"
) -> dict[uuid.UUID, Verdict]:
    """The current verdicts of these runs by log_id, in one query (an export's chunk)."""
    ids = list(log_ids)
    if not ids:
        return {}
    rows = (
        Verdict.objects.using(using)
        .for_client(client)
        .filter(log_id__in=ids)
        .select_related("author")
    )
    return {verdict.log_id: verdict for verdict in rows}


# The verdict columns of the log exports (CSV), after the log's own.
VERDICT_EXPORT_COLUMNS = [
    "verdict",
    "verdict_note",
    "verdict_better_answer",
    "verdict_author",
    "verdict_at",
]


def verdict_export_values(verdict: Verdict | None) -> list[Any]:
    """A verdict as the export's cells (empty without one), in VERDICT_EXPORT_COLUMNS order."""
    if verdict is None:
        return ["", "", "", "", ""]
    return [
        verdict.kind,
        verdict.note,
        verdict.better_answer,
        user_label(verdict.author),
        verdict.updated_at,
    ]


def verdict_export_object(verdict: Verdict | None) -> dict[str, Any] | None:
    """A verdict as the JSON export's object (None without one)."""
    if verdict is None:
        return None
    return dict(
        zip(
            ("kind", "note", "better_answer", "author", "at"),
            [*verdict_export_values(verdict)[:4], verdict.updated_at.isoformat()],
            strict=True,
        )
    )


# The review queue -------------------------------------------------------------------------
#
# Four tiers, each at most QUEUE_TIER_SIZE runs without a verdict, in this order:
#   1. FAILED, ESCALATED and ERROR runs, newest first;
#   2. successes with low confidence, lowest first;
#   3. successes with a high hallucination risk, highest first;
#   4. a random sample of the other successes, so the successes judged are not only the
#      suspect ones and the judged-correct share is honest.
# Every query is bounded and walks an index of the log table (collector/models.py):
#   - tier 1: one query per status on (client, status, timestamp), read backwards from
#     the window's end with LIMIT, merged here (an IN over the statuses would read and
#     sort every such run in the window);
#   - tiers 2 and 3: the per-metric indexes (client, coalesce(metric, -1), id), read from
#     the low (or high) end with LIMIT, the window and filters checked on the way;
#   - tier 4: the window's successes per UTC day (hour, for short windows) are read from
#     the read model; each draw picks a day weighted by its successes (so every success
#     is as likely as any other, whatever the day's volume) and a rank within it; one
#     index-only read of (client, status, timestamp) from the day's start, OFFSET rank,
#     finds that run's time (at most one day's index entries, never the whole table),
#     and the same query reads on from there to the first success still eligible.
# Runs with a verdict are skipped by NOT EXISTS on the verdict's (client, log_id) unique
# index; how many a scan skips is bounded by how many runs people have judged.
# The draws come from the seed in the queue's URL: the same link shows the same sample.
QUEUE_TIER_SIZE = 15
# Below this confidence (or above this risk) a success is reviewed before the sample.
LOW_CONFIDENCE = 0.5
HIGH_RISK = 0.5
# Draws made to fill the sample, which may land on the same run twice.
SAMPLE_DRAWS = 2 * QUEUE_TIER_SIZE
ISSUE_STATUSES = (LogStatus.FAILED, LogStatus.ESCALATED, LogStatus.ERROR)
QUEUE_COLUMNS = (
    "id",
    "log_id",
    "ticket_id",
    "status",
    "timestamp",
    "overall_confidence",
    "hallucination_risk",
    "environment",
    "workflow_version",
    "error_type",
)


class QueueReason:
    ISSUE = "issue"
    LOW_CONFIDENCE = "low_confidence"
    HIGH_RISK = "high_risk"
    SAMPLE = "sample"


REASON_LABELS = {
    QueueReason.ISSUE: "failed, escalated or error",
    QueueReason.LOW_CONFIDENCE: f"confidence below {LOW_CONFIDENCE:.2f}",
    QueueReason.HIGH_RISK: f"hallucination risk above {HIGH_RISK:.2f}",
    QueueReason.SAMPLE: "random sample of successes",
}


@dataclass(frozen=True)
class QueueItem:
    log: WorkflowLog
    reason: str

    @property
    def reason_label(self) -> str:
        return REASON_LABELS[self.reason]


def _unreviewed(*, client: Client, filters: DashboardFilters) -> QuerySet[WorkflowLog]:
    """The client's runs in the window and filters that have no verdict."""
    window = filters.window
    qs = WorkflowLog.objects.for_client(client).filter(
        timestamp__gte=window.start, timestamp__lt=window.end
    )
    if filters.environment:
        qs = qs.filter(environment=filters.environment)
    if filters.version:
        qs = qs.filter(workflow_version=filters.version)
    judged = Verdict.objects.for_client(OuterRef("client_id")).filter(log_id=OuterRef("log_id"))
    return qs.filter(~Exists(judged)).only(*QUEUE_COLUMNS)


def _issues(base: QuerySet[WorkflowLog]) -> list[WorkflowLog]:
    rows: list[WorkflowLog] = []
    for status in ISSUE_STATUSES:
        rows += base.filter(status=status).order_by("-timestamp", "-id")[:QUEUE_TIER_SIZE]
    rows.sort(key=lambda row: (row.timestamp, row.pk), reverse=True)
    return rows[:QUEUE_TIER_SIZE]


def _low_confidence(base: QuerySet[WorkflowLog]) -> list[WorkflowLog]:
    return list(
        base.filter(status=LogStatus.SUCCESS)
        .annotate(sort_value=metric_sort_expression("overall_confidence"))
        .filter(sort_value__gte=0, sort_value__lt=LOW_CONFIDENCE)
        .order_by("sort_value", "id")[:QUEUE_TIER_SIZE]
    )


# A success that is in neither tier 2 nor tier 3.
_ORDINARY = (Q(overall_confidence__isnull=True) | Q(overall_confidence__gte=LOW_CONFIDENCE)) & (
    Q(hallucination_risk__isnull=True) | Q(hallucination_risk__lte=HIGH_RISK)
)


def _high_risk(base: QuerySet[WorkflowLog]) -> list[WorkflowLog]:
    return list(
        base.filter(status=LogStatus.SUCCESS)
        .filter(Q(overall_confidence__isnull=True) | Q(overall_confidence__gte=LOW_CONFIDENCE))
        .annotate(sort_value=metric_sort_expression("hallucination_risk"))
        .filter(sort_value__gt=HIGH_RISK)
        .order_by("-sort_value", "-id")[:QUEUE_TIER_SIZE]
    )


def _sample_buckets(window_start: dt.datetime, window_end: dt.datetime, hourly: bool) -> list:
    """Consecutive UTC days (or hours) covering the window, cut to it at both ends."""
    step = dt.timedelta(hours=1) if hourly else dt.timedelta(days=1)
    start = window_start.astimezone(dt.UTC)
    first = start.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        first = first.replace(hour=0)
    spans, cursor = [], first
    while cursor < window_end:
        spans.append(reads.Span(max(cursor, window_start), min(cursor + step, window_end)))
        cursor += step
    return spans


def _sample(
    *, client: Client, filters: DashboardFilters, base: QuerySet[WorkflowLog], seed: int
) -> list[WorkflowLog]:
    window = filters.window
    spans = _sample_buckets(window.start, window.end, window.hourly)
    scope = reads.Scope(
        client_id=client.pk, environment=filters.environment, version=filters.version
    )
    counts = [int(total["n_success"]) for total in reads.series(scope, spans)]
    cumulative, running = [], 0
    for count in counts:
        running += count
        cumulative.append(running)
    if not running:
        return []
    rng = random.Random(seed)  # a sample to review, not a secret
    chosen: dict[int, WorkflowLog] = {}
    eligible = base.filter(_ORDINARY, status=LogStatus.SUCCESS)
    for _ in range(SAMPLE_DRAWS):
        if len(chosen) >= QUEUE_TIER_SIZE:
            break
        draw = rng.randrange(running)
        index = bisect.bisect_right(cumulative, draw)
        rank = draw - (cumulative[index - 1] if index else 0)
        span = spans[index]
        # The time of the day's success of that rank (among all of them, as the read
        # model counts): an index-only read of (client, status, timestamp) when no
        # environment or version is chosen.
        day = WorkflowLog.objects.for_client(client).filter(
            status=LogStatus.SUCCESS, timestamp__gte=span.start, timestamp__lt=span.end
        )
        if filters.environment:
            day = day.filter(environment=filters.environment)
        if filters.version:
            day = day.filter(workflow_version=filters.version)
        moment = day.order_by("timestamp").values("timestamp")[rank : rank + 1]
        # Then, in the same query, the first success from that time on still eligible.
        picked = (
            eligible.filter(timestamp__gte=Subquery(moment), timestamp__lt=span.end)
            .exclude(pk__in=list(chosen))
            .order_by("timestamp", "id")
            .first()
        )
        if picked is not None:
            chosen[picked.pk] = picked
    return list(chosen.values())


def review_queue(*, client: Client, filters: DashboardFilters, seed: int) -> list[QueueItem]:
    """The runs to review next, in priority order (see the comment above)."""
    base = _unreviewed(client=client, filters=filters)
    items = [QueueItem(log, QueueReason.ISSUE) for log in _issues(base)]
    items += [QueueItem(log, QueueReason.LOW_CONFIDENCE) for log in _low_confidence(base)]
    items += [QueueItem(log, QueueReason.HIGH_RISK) for log in _high_risk(base)]
    items += [
        QueueItem(log, QueueReason.SAMPLE)
        for log in _sample(client=client, filters=filters, base=base, seed=seed)
    ]
    return items


def review_queue_next(
    *, items: list[QueueItem], after: uuid.UUID | None, position: int
) -> tuple[QueueItem, int] | None:
    """The run after ``after`` in the queue and its position, or None at the end.

    ``position`` is where ``after`` was when it was opened: a run just judged has left
    the queue, and the one that took its place is next; a run skipped is still there,
    and the one after it is next.
    """
    for index, item in enumerate(items):
        if item.log.log_id == after:
            position = index + 1
            break
    position = max(0, position)
    if position >= len(items):
        return None
    return items[position], position
