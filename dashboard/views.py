"""HTML pages and exports. Views parse the query string, call selectors, and render.

Every client page is wrapped by ``scoping.client_view``, which resolves the client from the
URL for the logged-in user (404 otherwise) and hands it in; no view filters by client.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date

from collector.models import Client, LogStatus
from collector.readmodel.facts import DURATION_RELATIVE_ERROR
from dashboard import charts
from dashboard.forms import PERIODS, DashboardFilterForm, LogFilterForm
from dashboard.monitors.selectors.alerts import chart_markers, compare_url
from dashboard.rendering import render_page
from dashboard.scoping import client_view
from dashboard.selectors import (
    DashboardFilters,
    Kpis,
    client_dashboard_numbers,
    client_has_logs,
    client_list_for_user,
    client_overview_all_unscoped,
    log_export_queryset,
    log_page,
    log_runs_for_ticket,
)
from dashboard.selectors import (
    log_detail as log_detail_get,
)
from dashboard.selectors.compare import version_previous
from dashboard.selectors.logs import (
    COUNT_LIMIT,
    DEFAULT_SORT,
    EXPORT_COLUMNS,
    LogFilters,
    log_count,
    log_filter_options,
    log_neighbours,
)
from dashboard.selectors.replica import replica_status
from dashboard.selectors.saved_views import saved_view_list
from dashboard.services_saved_views import saved_view_deletable, saved_view_query
from dashboard.trace import trace_from_document
from flusso_site.errors import ApplicationError
from flusso_site.routers import read_database, replica_reads

# Rows fetched per database round trip while streaming an export: large enough to keep
# round trips few, small enough that memory stays flat.
EXPORT_CHUNK_SIZE = 2000
LOGS_PER_PAGE = 50
OVERVIEW_SORTS = {
    "name",
    "runs_24h",
    "runs_7d",
    "runs_30d",
    "success_rate_24h",
    "success_rate_7d",
    "success_rate_30d",
    "avg_confidence_30d",
    "errors_30d",
    "last_log_at",
    "open_alerts",
}


# Home ----------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The owner's overview of every client; a client user's own dashboard or a chooser.

    The user is known (login_required read the session on the primary) before the page's
    own reads go to the replica.
    """
    if request.user.is_staff:
        return replica_reads(_overview)(request)
    clients = list(client_list_for_user(user=request.user)[:2])
    if len(clients) == 1:
        return redirect("dashboard:client", client_slug=clients[0].slug)
    return render_page(
        request,
        "dashboard/chooser.html",
        {"clients": client_list_for_user(user=request.user)},
    )


# The owner's overview, home's one heavy page, reads the replica (the chooser of a client
# user is a short list from the primary).
home.reads_replica = True  # type: ignore[attr-defined]


def _overview(request: HttpRequest) -> HttpResponse:
    rows = client_overview_all_unscoped()
    sort = request.GET.get("sort", "name")
    key = sort.lstrip("-")
    if key not in OVERVIEW_SORTS:
        sort, key = "name", "name"
    descending = sort.startswith("-")

    def sort_key(row: Any) -> tuple[bool, Any]:
        value = getattr(row, key)
        if isinstance(value, str):
            value = value.lower()
        # Missing values (no runs) sort last whichever the direction.
        return (value is None) != descending, value if value is not None else 0

    rows.sort(key=sort_key, reverse=descending)
    totals = {
        name: sum(getattr(r, name) for r in rows)
        for name in (
            "runs_24h",
            "successes_24h",
            "runs_7d",
            "successes_7d",
            "runs_30d",
            "successes_30d",
            "errors_30d",
            "open_alerts",
        )
    }
    for span in ("24h", "7d", "30d"):
        runs = totals[f"runs_{span}"]
        totals[f"success_rate_{span}"] = totals[f"successes_{span}"] / runs if runs else None
    return render_page(
        request,
        "dashboard/overview.html",
        {
            "rows": rows,
            "totals": totals,
            "sort": sort,
            "silent": [r for r in rows if r.is_silent],
            "replica": replica_status(),
        },
    )


# Client dashboard ----------------------------------------------------------------------


# Percentiles come from the read model's duration histogram (docs/dashboard.md).
APPROX = f"within {DURATION_RELATIVE_ERROR:.0%}, from a histogram"


def _kpi_cards(kpis: Kpis) -> list[dict[str, Any]]:
    """The cards in page order: (label, values, format, whether up is good)."""
    cur, prev = kpis.current, kpis.previous
    specs = [
        ("Tickets processed", "runs", "int", True, "workflow runs"),
        ("Success rate", "success_rate", "pct", True, f"{cur.successes} successful runs"),
        ("Avg confidence", "avg_confidence", "ratio", True, ""),
        ("Avg hallucination risk", "avg_hallucination_risk", "ratio", False, ""),
        ("Median execution time", "median_execution_seconds", "approx_seconds", False, APPROX),
        ("p95 execution time", "p95_execution_seconds", "approx_seconds", False, APPROX),
        ("Avg ReAct iterations", "avg_react_iterations", "decimal", None, ""),
    ]
    cards = []
    for label, name, kind, up_is_good, note in specs:
        current, previous = getattr(cur, name), getattr(prev, name)
        change = None
        if current is not None and previous is not None:
            change = current - previous
        trend = ""
        if change and up_is_good is not None:
            trend = "good" if (change > 0) == up_is_good else "bad"
        cards.append(
            {
                "key": name,
                "label": label,
                "value": current,
                "previous": previous,
                "change": change,
                "kind": kind,
                "trend": trend,
                "note": note,
            }
        )
    return cards


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _logs_url(client: Client, filters: DashboardFilters, **extra: str) -> str:
    query = {"start": _iso(filters.window.start), "end": _iso(filters.window.end)}
    if filters.environment:
        query["environment"] = filters.environment
    if filters.version:
        query["version"] = filters.version
    query |= extra
    return reverse("dashboard:logs", args=[client.slug]) + "?" + urlencode(query)


@client_view
def client_dashboard(request: HttpRequest, *, client: Client) -> HttpResponse:
    if not client_has_logs(client=client):
        return render_page(
            request,
            "dashboard/empty.html",
            {"collector_url": request.build_absolute_uri(reverse("collector:log-ingest"))},
            client=client,
        )
    form = DashboardFilterForm(request.GET)
    filters = form.filters(now=timezone.now())
    numbers = client_dashboard_numbers(client=client, filters=filters)
    found = chart_markers(
        client=client,
        start=filters.window.start,
        end=filters.window.end,
        environment=filters.environment,
        compare_query=_period_query(form),
    )
    markers = found.markers
    series, distributions = numbers.series, numbers.distributions
    by_type, by_node = numbers.errors.by_type, numbers.errors.by_node
    context = {
        "form": form,
        "period": form.cleaned_data["period"] if form.is_valid() else "30d",
        "periods": list(PERIODS),
        "filters": filters,
        "options": numbers.options,
        "cards": _kpi_cards(numbers.kpis),
        "charts": {
            "volume": charts.volume_chart(series, markers),
            "success": charts.success_rate_chart(series, markers),
            "quality": charts.quality_chart(series, markers),
            "duration": charts.execution_time_chart(distributions.execution_time),
            "calibration": charts.calibration_chart(distributions.calibration),
        },
        "errors_by_type": [(g, _logs_url(client, filters, error_type=g.key)) for g in by_type],
        "errors_by_node": [(g, _logs_url(client, filters, error_node=g.key)) for g in by_node],
        "errors_type_chart": charts.errors_chart(by_type) if by_type else "",
        "errors_node_chart": charts.errors_chart(by_node) if by_node else "",
        "logs_url": _logs_url(client, filters),
        "markers": found,
        "compare_url": _compare_url(client, filters, numbers.options["versions"], form),
    }
    return render_page(request, "dashboard/client.html", context, client=client)


def _period_query(form: DashboardFilterForm) -> dict[str, str]:
    """The dashboard's period as query parameters for the pages it links to (the
    comparison): the period it shows, or nothing when its input was invalid (it then
    shows the default period, as the linked page will)."""
    if not form.is_valid():
        return {}
    data = form.cleaned_data
    if data["period"] == "custom":
        return {
            "period": "custom",
            "start": data["start"].isoformat(),
            "end": data["end"].isoformat(),
        }
    return {"period": data["period"]}


def _compare_url(
    client: Client, filters: DashboardFilters, versions: list[str], form: DashboardFilterForm
) -> str:
    """ "compare with...": the chosen version against the one before it (natural order),
    over the same period; empty when no version is chosen."""
    if not filters.version:
        return ""
    previous = version_previous(versions, filters.version)
    return compare_url(
        client=client, previous=previous, version=filters.version, extra=_period_query(form)
    )


# Logs ------------------------------------------------------------------------------------


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _pager_labels(sort: str) -> tuple[str, str]:
    """(previous, next) link texts: by time they say which way in time, else plain."""
    if sort == "-time":
        return "Newer", "Older"
    if sort == "time":
        return "Older", "Newer"
    return "Previous", "Next"


def _picker(value: Any) -> str:
    """The date inputs are the dashboard's date pickers; a value with a time (a link from
    the dashboard's rolling period) stays a text input, which shows it unchanged."""
    text = (value or "").strip() if isinstance(value, str) else ""
    try:
        return "date" if not text or parse_date(text) is not None else "text"
    except ValueError:  # well-formed but not a day of the calendar
        return "text"


@client_view
def log_list(request: HttpRequest, *, client: Client) -> HttpResponse:
    form = LogFilterForm(request.GET)
    page = None
    count = None
    error = ""
    filters = form.filters() if form.is_valid() else LogFilters()
    if form.is_valid():
        try:
            count = log_count(client=client, filters=filters)
            page = log_page(
                client=client,
                filters=filters,
                cursor=form.cleaned_data.get("cursor") or "",
                size=LOGS_PER_PAGE,
                count=count,
            )
        except ApplicationError as exc:
            error = exc.message
    else:
        error = "Some filters are not valid; correct them to see the logs."
    sort = (form.cleaned_data.get("sort") if form.is_valid() else "") or DEFAULT_SORT
    prev_label, next_label = _pager_labels(sort)
    # The filters the detail page's previous/next links keep (no cursor).
    filter_query = _query_without(request, "cursor")
    try:
        current_query = saved_view_query(request.GET)
    except ApplicationError:
        current_query = None
    saved = [
        {
            "view": view,
            "current": view.query == current_query,
            "deletable": saved_view_deletable(saved_view=view, user=request.user),
        }
        for view in saved_view_list(client=client)
    ]
    context = {
        "form": form,
        "page": page,
        "count": count,
        "saved_views": saved,
        "save_query": current_query,
        "count_limit": COUNT_LIMIT,
        "error": error,
        "statuses": LogStatus.values,
        "options": log_filter_options(client=client, filters=filters),
        "pickers": {name: _picker(form[name].value()) for name in ("start", "end")},
        "sort": sort,
        "prev_label": prev_label,
        "next_label": next_label,
        "base_query": filter_query,
        "detail_query": filter_query,
        "sort_query": _query_without(request, "cursor", "sort"),
        "export_query": filter_query,
    }
    return render_page(
        request, "dashboard/logs.html", context, client=client, status=400 if error else 200
    )


def _form_errors_text(form: LogFilterForm) -> str:
    lines = [f"{name}: {message}" for name, messages in form.errors.items() for message in messages]
    return "Invalid filters.\n" + "\n".join(lines) + "\n"


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


# Spreadsheet programs run cells starting with these as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _export_body(
    queryset: QuerySet[Any], render: Callable[[Iterator[Any]], Iterator[str]]
) -> Iterator[str]:
    """An export's body: ``render`` writes each row as text while the response streams.

    An export streams after its 200 is sent; a query failing then could only cut the body
    short. So the query runs here once, for its first row, before the response exists:
    a query that fails is an error page. A failure later still (the connection lost
    mid-way) propagates: the server aborts the chunked body without its last chunk, which
    every HTTP client reports as an error. The streaming cursor opens only when the body
    is read, so a response nobody reads holds none.
    """
    list(queryset[:1])
    return render(queryset.iterator(chunk_size=EXPORT_CHUNK_SIZE))


def _export_name(client: Client, extension: str) -> str:
    return f"{client.slug}-logs-{timezone.now():%Y%m%d-%H%M%S}.{extension}"


@client_view
def log_export_csv(request: HttpRequest, *, client: Client) -> HttpResponse:
    form = LogFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(_form_errors_text(form), content_type="text/plain")
    # Read while streaming, after this view has returned: bound to the database now.
    queryset = log_export_queryset(client=client, filters=form.filters()).using(read_database())
    writer = csv.writer(_Echo())

    def lines(rows: Iterator[Any]) -> Iterator[str]:
        yield writer.writerow(EXPORT_COLUMNS)
        for values in rows:
            yield writer.writerow([_csv_cell(v) for v in values])

    response = StreamingHttpResponse(
        _export_body(queryset.values_list(*EXPORT_COLUMNS), lines),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{_export_name(client, "csv")}"'
    return response


@client_view
def log_export_json(request: HttpRequest, *, client: Client) -> HttpResponse:
    """A JSON array of the stored documents, written one document at a time."""
    form = LogFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(_form_errors_text(form), content_type="text/plain")
    queryset = log_export_queryset(client=client, filters=form.filters()).using(read_database())

    def chunks(documents: Iterator[Any]) -> Iterator[str]:
        yield "["
        separator = "\n"
        for document in documents:
            yield separator + json.dumps(document, ensure_ascii=False)
            separator = ",\n"
        yield "\n]\n"

    response = StreamingHttpResponse(
        _export_body(queryset.values_list("document", flat=True), chunks),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="{_export_name(client, "json")}"'
    return response


def _neighbour_links(request: HttpRequest, client: Client, log: Any) -> dict[str, str]:
    """Links to the list the run was opened from and to the runs beside it in that list:
    the filters travel in the query string (invalid ones are dropped, not an error)."""
    form = LogFilterForm(request.GET)
    query = _query_without(request, "cursor") if form.is_valid() else ""
    suffix = f"?{query}" if query else ""
    links = {"list_url": reverse("dashboard:logs", args=[client.slug]) + suffix}
    if form.is_valid():
        found = log_neighbours(client=client, filters=form.filters(), log=log)
        for name, neighbour in (("previous_url", found.previous), ("next_url", found.next)):
            if neighbour is not None:
                links[name] = reverse("dashboard:log", args=[client.slug, neighbour]) + suffix
    return links


@client_view
def log_detail(request: HttpRequest, *, client: Client, log_id: uuid.UUID) -> HttpResponse:
    log = log_detail_get(client=client, log_id=log_id)
    context = {
        **_neighbour_links(request, client, log),
        "log": log,
        "trace": trace_from_document(log.document),
        "other_runs": log_runs_for_ticket(client=client, log=log),
        "raw_json": json.dumps(log.document, indent=2, ensure_ascii=False),
        "ticket_logs_url": reverse("dashboard:logs", args=[client.slug])
        + "?"
        + urlencode({"ticket": log.ticket_id}),
    }
    return render_page(request, "dashboard/log_detail.html", context, client=client)


@client_view
def log_raw(request: HttpRequest, *, client: Client, log_id: uuid.UUID) -> HttpResponse:
    log = log_detail_get(client=client, log_id=log_id)
    response = JsonResponse(
        log.document, safe=False, json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    response["Content-Disposition"] = f'attachment; filename="{log.log_id}.json"'
    return response
