"""HTML pages. Views parse the query string, call one selector (the client dashboard's
and the log viewer's data each come from one call, ``selectors/pages.py``), and render.

Every client page is wrapped by ``scoping.client_view``, which resolves the client from the
URL for the logged-in user (404 otherwise) and hands it in; no view filters by client.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date

from collector.models import Client, LogStatus, WorkflowLog
from collector.selectors import log_get
from dashboard import charts
from dashboard.forms import PERIODS, DashboardFilterForm, LogFilterForm
from dashboard.monitors.selectors.alerts import (
    compare_url,
)
from dashboard.presenters import kpi_cards, overview_sorted, overview_totals
from dashboard.rendering import render_page
from dashboard.reviews.forms import VerdictForm, queue_state_from_param
from dashboard.reviews.selectors import verdict_for_log
from dashboard.reviews.services import verdict_may_change
from dashboard.scoping import client_view
from dashboard.selectors import (
    DashboardFilters,
    client_list_for_user,
    client_overview_all_unscoped,
    log_runs_for_ticket,
)
from dashboard.selectors.compare import version_previous
from dashboard.selectors.logs import (
    COUNT_LIMIT,
    DEFAULT_SORT,
    log_neighbours,
)
from dashboard.selectors.pages import client_dashboard_page, log_list_page
from dashboard.selectors.replica import replica_status
from dashboard.services_saved_views import saved_view_query
from dashboard.trace import trace_from_document
from flusso_site.errors import ApplicationError
from flusso_site.routers import replica_reads

LOGS_PER_PAGE = 50


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
    rows, sort = overview_sorted(client_overview_all_unscoped(), sort=request.GET.get("sort", ""))
    totals = overview_totals(rows)
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
    form = DashboardFilterForm(request.GET)
    filters = form.filters(now=timezone.now())
    found = client_dashboard_page(client=client, filters=filters, compare_query=_period_query(form))
    if found is None:
        return render_page(
            request,
            "dashboard/empty.html",
            {"collector_url": request.build_absolute_uri(reverse("collector:log-ingest"))},
            client=client,
        )
    numbers, markers = found.numbers, found.markers.markers
    series, distributions = numbers.series, numbers.distributions
    by_type, by_node = numbers.errors.by_type, numbers.errors.by_node
    verdicts = found.verdicts
    context = {
        "form": form,
        "period": form.cleaned_data["period"] if form.is_valid() else "30d",
        "periods": list(PERIODS),
        "filters": filters,
        "options": numbers.options,
        "cards": kpi_cards(numbers.kpis),
        "previous_window": filters.window.previous,
        "small_sample_runs": charts.SMALL_SAMPLE_RUNS,
        "has_previous": numbers.kpis.previous.runs > 0,
        "charts": {
            "volume": charts.to_div(charts.volume_figure(series), markers),
            "success": charts.to_div(charts.success_rate_figure(series), markers),
            "quality": charts.to_div(charts.quality_figure(series), markers),
            "duration": charts.to_div(charts.execution_time_figure(distributions.execution_time)),
            "calibration": charts.to_div(charts.calibration_figure(distributions.calibration)),
        },
        "errors_by_type": [(g, _logs_url(client, filters, error_type=g.key)) for g in by_type],
        "errors_by_node": [(g, _logs_url(client, filters, error_node=g.key)) for g in by_node],
        "errors_type_chart": charts.to_div(charts.errors_figure(by_type)) if by_type else "",
        "errors_node_chart": charts.to_div(charts.errors_figure(by_node)) if by_node else "",
        "logs_url": _logs_url(client, filters),
        "markers": found.markers,
        "silent_since": found.silent_since,
        "open_alerts": found.open_alerts,
        "compare_url": _compare_url(client, filters, numbers.options["versions"], form),
        # The verdict figures (templates/dashboard/_verdict_figures.html); their
        # calibration chart only where there are enough verdicts for it.
        "verdicts": verdicts,
        "verdict_calibration_chart": (
            charts.to_div(charts.verdict_calibration_figure(verdicts.calibration))
            if verdicts.enough_for_calibration
            else ""
        ),
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
    try:
        current_query = saved_view_query(request.GET)
    except ApplicationError:
        current_query = None
    found = log_list_page(
        client=client,
        filters=form.filters() if form.is_valid() else None,
        cursor=(form.cleaned_data.get("cursor") or "") if form.is_valid() else "",
        size=LOGS_PER_PAGE,
        user=request.user,
        current_query=current_query,
    )
    page, count, error = found.page, found.count, found.error
    saved = found.saved_views
    sort = (form.cleaned_data.get("sort") if form.is_valid() else "") or DEFAULT_SORT
    prev_label, next_label = _pager_labels(sort)
    # The filters the detail page's previous/next links keep (no cursor).
    filter_query = _query_without(request, "cursor")
    context = {
        "form": form,
        "page": page,
        "count": count,
        "saved_views": saved,
        "save_query": current_query,
        "count_limit": COUNT_LIMIT,
        "error": error,
        "statuses": LogStatus.values,
        "options": found.options,
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


def _log_or_404(*, client: Client, log_id: uuid.UUID) -> WorkflowLog:
    log = log_get(client=client, log_id=log_id)
    if log is None:
        raise Http404("No such log.")
    return log


@client_view
def log_detail(request: HttpRequest, *, client: Client, log_id: uuid.UUID) -> HttpResponse:
    return log_detail_page(request, client=client, log_id=log_id)


def log_detail_page(
    request: HttpRequest,
    *,
    client: Client,
    log_id: uuid.UUID,
    verdict_form: VerdictForm | None = None,
    queue_param: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """A run's page; the verdict view renders it too, with its form's errors. Reached from
    the review queue (``?queue=``, its state), it links to the queue's next run."""
    log = _log_or_404(client=client, log_id=log_id)
    review = verdict_for_log(client=client, log_id=log_id)
    verdict = review.verdict
    if queue_param is None:
        queue_param = request.GET.get("queue", "")
    queue = queue_state_from_param(queue_param, now=timezone.now())
    if verdict_form is None:
        initial = {"queue": queue.query(position=queue.position) if queue else ""}
        if verdict is not None:
            initial |= {
                "kind": verdict.kind,
                "note": verdict.note,
                "better_answer": verdict.better_answer,
            }
        verdict_form = VerdictForm(initial=initial)
    context = {
        **_neighbour_links(request, client, log),
        "log": log,
        "trace": trace_from_document(log.document),
        "other_runs": log_runs_for_ticket(client=client, log=log),
        "raw_json": json.dumps(log.document, indent=2, ensure_ascii=False),
        "ticket_logs_url": reverse("dashboard:logs", args=[client.slug])
        + "?"
        + urlencode({"ticket": log.ticket_id}),
        "review": review,
        "may_record": verdict is None or verdict_may_change(verdict=verdict, user=request.user),
        "verdict_form": verdict_form,
        "queue_next_url": (
            reverse("dashboard:review_next", args=[client.slug])
            + "?"
            + urlencode({"queue": queue.query(position=queue.position), "after": log.log_id})
            if queue
            else ""
        ),
        "queue_url": (
            reverse("dashboard:review", args=[client.slug]) + "?" + queue.query() if queue else ""
        ),
    }
    return render_page(request, "dashboard/log_detail.html", context, client=client, status=status)


@client_view
def log_raw(request: HttpRequest, *, client: Client, log_id: uuid.UUID) -> HttpResponse:
    log = _log_or_404(client=client, log_id=log_id)
    response = JsonResponse(
        log.document, safe=False, json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    response["Content-Disposition"] = f'attachment; filename="{log.log_id}.json"'
    return response
