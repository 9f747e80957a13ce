"""The log viewer's reads: filtered lists with keyset pagination, exports and one log.

Pages are keyset-paginated on (sort value, id): each page is one index range read, as
fast on page 10,000 as on page 1, where OFFSET would read and drop every earlier row.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import OperationalError, connections, transaction
from django.db.models import (
    BooleanField,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from collector import search
from collector.models import MISSING_METRIC, Client, WorkflowLog, metric_sort_expression
from collector.readmodel import reads
from collector.readmodel.facts import STATUS_COLUMNS
from flusso_site.errors import ApplicationError

# Sortable columns: the public name in the URL -> the model field.
SORT_FIELDS = {
    "time": "timestamp",
    "confidence": "overall_confidence",
    "risk": "hallucination_risk",
    "duration": "execution_time_seconds",
    "iterations": "react_iterations",
}
DEFAULT_SORT = "-time"
# The largest id a cursor may name: the id column is a signed 64-bit integer.
MAX_ID = 2**63 - 1
# Other runs of the same ticket shown on a detail page.
TICKET_RUNS_SHOWN = 20
# Where the read model cannot count a selection, the log viewer counts matching rows up to
# this many and says "more than" beyond: a bounded read however many logs match.
COUNT_LIMIT = 10_000
# A search matching at most this many logs (with the other filters) is read from its GIN
# index and sorted; one matching more walks the sort's index, where at least one log in
# ~200 matches (at a million logs, docs/performance.md: either way a page then takes tens
# of milliseconds, where the wrong one of the two took seconds).
SELECTIVE_MATCHES = 2_000
# A walk finds a page quickly when matches are spread along the sort, but reads every log
# before them when they are bunched far down it (an old incident's word: 0.3 s at 150,000
# newer logs, linear in them). It gets this long, then the page is read the other way,
# from the search index and sorted (13 ms for those 2,100 matches).
WALK_TIMEOUT_MS = 250
_QUERY_CANCELED = "57014"
_Rows = TypeVar("_Rows")
# The whole history, for counts and menus without dates: day-aligned, so the read model
# answers them from day rows alone (no raw edge), and wide enough for any stored log
# (the API takes timestamps from 1970 to 2999, as the filters do).
HISTORY = reads.Span(datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class LogFilters:
    status: str = ""
    environment: str = ""
    version: str = ""
    start: datetime | None = None
    end: datetime | None = None
    ticket_id: str = ""
    confidence_min: float | None = None
    confidence_max: float | None = None
    error_type: str = ""
    error_node: str = ""
    # Full-text search: words ANDed (collector.search says over what).
    q: str = ""
    sort: str = DEFAULT_SORT


def _searched(
    qs: QuerySet[WorkflowLog], query: str, *, by_index: bool = True
) -> QuerySet[WorkflowLog]:
    """Logs whose searchable text holds every word of ``query``.

    PostgreSQL: ``websearch_to_tsquery`` over the GIN-indexed vector ("quoted phrases",
    ``-word``, ``or``; text without any word matches nothing). Elsewhere: a
    case-insensitive LIKE per word over the same strings. ``by_index`` False: the same
    test, in a form the GIN index does not serve (a walk along the sort's index).
    """
    if connections[qs.db].vendor == "postgresql":
        sql = search.SEARCH_MATCH_SQL if by_index else search.SEARCH_CHECK_SQL
        # The words are a bound parameter; the SQL is a constant of collector.search.
        match = RawSQL(sql, [query], output_field=BooleanField())  # noqa: S611
        return qs.filter(match)
    required, excluded = search.search_words(query)
    if not required and not excluded:
        return qs.none()
    qs = qs.alias(
        search_text=Coalesce(
            RawSQL(search.SQLITE_SEARCH_TEXT_SQL, [], output_field=TextField()),  # noqa: S611
            Value(""),
            output_field=TextField(),
        )
    )
    for word in required:
        qs = qs.filter(search_text__icontains=word)
    for word in excluded:
        qs = qs.exclude(search_text__icontains=word)
    return qs


def _filtered(
    *, client: Client, filters: LogFilters, search_by_index: bool = True
) -> QuerySet[WorkflowLog]:
    qs = WorkflowLog.objects.for_client(client)
    exact = {
        "status": filters.status,
        "environment": filters.environment,
        "workflow_version": filters.version,
        "ticket_id": filters.ticket_id,
        "error_type": filters.error_type,
        "error_node": filters.error_node,
    }
    qs = qs.filter(**{name: value for name, value in exact.items() if value})
    if filters.start is not None:
        qs = qs.filter(timestamp__gte=filters.start)
    if filters.end is not None:
        qs = qs.filter(timestamp__lt=filters.end)
    if filters.confidence_min is not None:
        qs = qs.filter(overall_confidence__gte=filters.confidence_min)
    if filters.confidence_max is not None:
        qs = qs.filter(overall_confidence__lte=filters.confidence_max)
    if filters.q:
        qs = _searched(qs, filters.q, by_index=search_by_index)
    return qs


def _sort_key(sort: str) -> tuple[str, bool]:
    """(model field, descending) for a public sort name such as "-confidence"."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in SORT_FIELDS:
        raise ApplicationError(f"Logs cannot be sorted by {name!r}.", code="bad_sort")
    return SORT_FIELDS[name], descending


def _search_is_selective(
    qs: QuerySet[WorkflowLog], filters: LogFilters, count: LogCount | None
) -> bool:
    """Whether a PostgreSQL search matches few enough logs to read them all from its GIN
    index and sort them, rather than walk the sort's index checking each log.

    The planner cannot tell (a word's frequency is a guess outside the few hundred most
    common ones, a phrase's a product of its words'), and at a million logs it guessed
    wrong both ways, seconds a page. So this counts, unordered and bounded (``count``,
    when the caller has counted already), and decides.
    """
    if not filters.q or connections[qs.db].vendor != "postgresql":
        return False
    if count is not None:
        return count.exact and count.value <= SELECTIVE_MATCHES
    return qs.order_by()[: SELECTIVE_MATCHES + 1].count() <= SELECTIVE_MATCHES


def _sorted(
    qs: QuerySet[WorkflowLog], sort: str, *, by_index: bool = True
) -> tuple[QuerySet[WorkflowLog], str, bool]:
    """The rows in ``sort`` order, as the value ``sort_value``.

    ``by_index``: the sort's own index expression, so a page is an index range; False
    for a selective search, whose matches are fewer than any index range would read:
    the same values, in an expression no index has, so the planner reads the matches
    from the search index and sorts them.
    """
    field_name, descending = _sort_key(sort)
    if field_name == "timestamp":
        value: Any = F("timestamp")
        if not by_index:
            value = ExpressionWrapper(
                F("timestamp") + Value(timedelta(0)), output_field=DateTimeField()
            )
    else:
        value = metric_sort_expression(field_name)
        if not by_index:
            value = ExpressionWrapper(value + Value(0.0), output_field=FloatField())
    qs = qs.annotate(sort_value=value)
    order = ["-sort_value", "-id"] if descending else ["sort_value", "id"]
    return qs.order_by(*order), field_name, descending


@dataclass(frozen=True)
class _Listing:
    rows: QuerySet[WorkflowLog]
    field_name: str
    descending: bool
    # A search read along the sort's index, checking each log's vector (not from the
    # search index): bounded in time by _walk_or_search.
    walking: bool = False


def _listed(
    *,
    client: Client,
    filters: LogFilters,
    count: LogCount | None = None,
    selective: bool | None = None,
) -> _Listing:
    """The viewer's filtered and sorted rows.

    A search is read one of two ways (``_search_is_selective``, unless ``selective``
    says): its few matches from the GIN index, sorted; or a walk along the sort's index,
    checking each log's vector.
    """
    qs = _filtered(client=client, filters=filters)
    if not filters.q:
        return _Listing(*_sorted(qs, filters.sort))
    if selective is None:
        selective = _search_is_selective(qs, filters, count)
    if not selective:
        qs = _filtered(client=client, filters=filters, search_by_index=False)
    walking = not selective and connections[qs.db].vendor == "postgresql"
    return _Listing(*_sorted(qs, filters.sort, by_index=not selective), walking=walking)


def _read_listing(
    listing: _Listing,
    read: Callable[[QuerySet[WorkflowLog]], _Rows],
    *,
    client: Client,
    filters: LogFilters,
) -> _Rows:
    """``read`` of the listing's rows; a walk bounded in time (``_walk_or_search``), with
    the same rows from the search index as its fallback."""
    if not listing.walking:
        return read(listing.rows)
    return _walk_or_search(
        db=listing.rows.db,
        walk=lambda: read(listing.rows),
        search_instead=lambda: read(_listed(client=client, filters=filters, selective=True).rows),
    )


def _walk_or_search(
    *, db: str, walk: Callable[[], _Rows], search_instead: Callable[[], _Rows]
) -> _Rows:
    """``walk()`` under a statement timeout of WALK_TIMEOUT_MS; past it, ``search_instead()``
    (the same rows, read from the search index and sorted). The timeout is set and reset
    inside a savepoint, so a cancelled walk leaves the page's transaction as it was."""
    try:
        with transaction.atomic(using=db), connections[db].cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout')")
            (before,) = cursor.fetchone()
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [f"{WALK_TIMEOUT_MS}ms"]
            )
            rows = walk()
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
            return rows
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != _QUERY_CANCELED:
            raise
    return search_instead()


# Counts and menus ---------------------------------------------------------------------


@dataclass(frozen=True)
class LogCount:
    """How many logs match: exact, or at least ``value`` (``exact`` False: "more than")."""

    value: int
    exact: bool


def _read_model_answers(filters: LogFilters) -> bool:
    """Whether only the read model's dimensions (time, environment, version, status) filter."""
    return not (
        filters.ticket_id
        or filters.confidence_min is not None
        or filters.confidence_max is not None
        or filters.error_type
        or filters.error_node
        or filters.q
    )


def _span(filters: LogFilters) -> reads.Span:
    return reads.Span(filters.start or HISTORY.start, filters.end or HISTORY.end)


def log_count(*, client: Client, filters: LogFilters) -> LogCount:
    """How many of the client's logs match ``filters``, at a cost bounded at any size.

    From the read model when only its dimensions filter (its day and hour rows, and the
    raw logs of at most an hour at each end of the dates); otherwise the matching rows are
    counted up to ``COUNT_LIMIT`` and a larger count says "more than".
    """
    if _read_model_answers(filters):
        span = _span(filters)
        if span.start >= span.end:
            return LogCount(0, True)
        scope = reads.Scope(
            client_id=client.pk, environment=filters.environment, version=filters.version
        )
        with reads.read_snapshot():
            (found,) = reads.totals(scope, [span])
        column = STATUS_COLUMNS[filters.status] if filters.status else "runs"
        return LogCount(int(found[column]), True)
    matched = _filtered(client=client, filters=filters).order_by()[: COUNT_LIMIT + 1].count()
    if matched > COUNT_LIMIT:
        return LogCount(COUNT_LIMIT, False)
    return LogCount(matched, True)


@dataclass(frozen=True)
class LogFilterOptions:
    """The values the log viewer's menus offer: those with runs in the chosen dates."""

    environments: list[str]
    versions: list[str]
    error_types: list[str]
    error_nodes: list[str]


def log_filter_options(*, client: Client, filters: LogFilters) -> LogFilterOptions:
    """The menus, from the read model (over the filter's dates, or the whole history)."""
    span = _span(filters)
    if span.start >= span.end:
        return LogFilterOptions([], [], [], [])
    with reads.read_snapshot():
        pairs = reads.dimensions(reads.Scope(client_id=client.pk), span)
        # Errors of the chosen environment and version, as the dashboard's tables.
        scope = reads.Scope(
            client_id=client.pk, environment=filters.environment, version=filters.version
        )
        groups = reads.error_groups(scope, span)
    return LogFilterOptions(
        environments=sorted({environment for environment, _ in pairs}),
        versions=sorted({version for _, version in pairs if version}),
        error_types=sorted({kind for kind, _ in groups if kind}),
        error_nodes=sorted({node for _, node in groups if node}),
    )


# Cursors -----------------------------------------------------------------------------


def cursor_encode(*, sort: str, value: Any, pk: int, direction: str) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps({"s": sort, "v": value, "i": pk, "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str, *, sort: str) -> tuple[Any, int, str]:
    """(sort value, id, "next" or "prev"); ApplicationError for anything not ours.

    The cursor travels in the URL, so anyone can hand-edit it: every part is checked to
    be something ``cursor_encode`` could have made (an aware time, a finite number, an id
    the id column can hold) before it reaches a query.
    """
    invalid = ApplicationError(
        "The page link is not valid (or was made for another sort order).", code="bad_cursor"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, pk, direction = data["v"], data["i"], data["d"]
        if data["s"] != sort or direction not in ("next", "prev"):
            raise invalid
        if not isinstance(pk, int) or isinstance(pk, bool) or not 0 < pk <= MAX_ID:
            raise invalid
        if sort.lstrip("-") == "time":
            moment = parse_datetime(value) if isinstance(value, str) else None
            if moment is None or timezone.is_naive(moment):
                raise invalid
            # Normalised to UTC here, where an offset that pushes it off the calendar fails.
            value = moment.astimezone(UTC)
        else:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise invalid
            value = float(value)
            if not math.isfinite(value):
                raise invalid
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error):
        raise invalid from None
    return value, pk, direction


def _beyond(
    qs: QuerySet[WorkflowLog], *, value: Any, pk: int, descending: bool, direction: str
) -> QuerySet[WorkflowLog]:
    """The rows after (``next``) or before (``prev``) the row (value, pk) in the page
    order, nearest first: a keyset range read from the sort's index."""
    # "after" in the page order: smaller for a descending sort, larger otherwise.
    after = (direction == "next") == descending
    # The redundant outer bound gives the planner an index range to scan.
    if after:
        qs = qs.filter(Q(sort_value__lte=value), Q(sort_value__lt=value) | Q(id__lt=pk))
    else:
        qs = qs.filter(Q(sort_value__gte=value), Q(sort_value__gt=value) | Q(id__gt=pk))
    return qs.reverse() if direction == "prev" else qs


@dataclass(frozen=True)
class LogPage:
    rows: list[WorkflowLog]
    next_cursor: str | None
    prev_cursor: str | None


def log_page(
    *,
    client: Client,
    filters: LogFilters,
    cursor: str = "",
    size: int = 50,
    count: LogCount | None = None,
) -> LogPage:
    """One page of the client's logs matching ``filters``, after or before ``cursor``.

    ``count``: ``log_count`` of the same filters, when the caller has it (a search then
    needs no count of its own to choose how it is read).
    """
    listing = _listed(client=client, filters=filters, count=count)
    descending = listing.descending
    direction = "next"
    value: Any = None
    pk = 0
    if cursor:
        value, pk, direction = cursor_decode(cursor, sort=filters.sort)
    columns = [
        "id",
        "log_id",
        "ticket_id",
        "status",
        "timestamp",
        "overall_confidence",
        "hallucination_risk",
        "execution_time_seconds",
        "react_iterations",
        "environment",
        "workflow_version",
        "error_type",
    ]

    def read(listed: QuerySet[WorkflowLog]) -> list[WorkflowLog]:
        if cursor:
            listed = _beyond(listed, value=value, pk=pk, descending=descending, direction=direction)
        return list(listed.only(*columns)[: size + 1])

    rows = _read_listing(listing, read, client=client, filters=filters)
    more = len(rows) > size
    rows = rows[:size]
    if direction == "prev":
        rows.reverse()
    has_next = more if direction == "next" else bool(cursor)
    has_prev = bool(cursor) if direction == "next" else more
    sort = filters.sort

    def make(row: WorkflowLog, where: str) -> str:
        return cursor_encode(sort=sort, value=row.sort_value, pk=row.pk, direction=where)

    return LogPage(
        rows=rows,
        next_cursor=make(rows[-1], "next") if rows and has_next else None,
        prev_cursor=make(rows[0], "prev") if rows and has_prev else None,
    )


EXPORT_COLUMNS = [
    "log_id",
    "timestamp",
    "ticket_id",
    "status",
    "environment",
    "workflow_version",
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
]


def log_export_queryset(*, client: Client, filters: LogFilters) -> QuerySet[WorkflowLog]:
    """Every log matching ``filters`` in the viewer's order; callers stream it."""
    qs = _listed(client=client, filters=filters).rows
    return qs


@dataclass(frozen=True)
class LogNeighbours:
    """The log_ids of the runs just before and after one in the viewer's list (or None)."""

    previous: uuid.UUID | None
    next: uuid.UUID | None


def log_neighbours(*, client: Client, filters: LogFilters, log: WorkflowLog) -> LogNeighbours:
    """The runs beside ``log`` in the list ``filters`` make (same sort): one row each way,
    read from the sort's index, as cheap at any size as a page."""
    listing = _listed(client=client, filters=filters)
    field_name, descending = listing.field_name, listing.descending
    value: Any = getattr(log, field_name)
    if field_name != "timestamp":
        # What metric_sort_expression makes of it: a float, missing values lowest.
        value = MISSING_METRIC if value is None else float(value)

    def read(listed: QuerySet[WorkflowLog]) -> list[uuid.UUID | None]:
        return [
            _beyond(listed, value=value, pk=log.pk, descending=descending, direction=direction)
            .values_list("log_id", flat=True)
            .first()
            for direction in ("prev", "next")
        ]

    found = _read_listing(listing, read, client=client, filters=filters)
    return LogNeighbours(previous=found[0], next=found[1])


def log_runs_for_ticket(*, client: Client, log: WorkflowLog) -> list[WorkflowLog]:
    """The latest other runs of the same ticket, newest first."""
    return list(
        WorkflowLog.objects.for_client(client)
        .filter(ticket_id=log.ticket_id)
        .exclude(pk=log.pk)
        .only("log_id", "timestamp", "status", "workflow_version", "environment")
        .order_by("-timestamp", "-id")[:TICKET_RUNS_SHOWN]
    )
