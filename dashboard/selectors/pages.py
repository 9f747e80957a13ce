"""What each of the two busiest pages shows, read by one call, so their views only parse,
call and render: the client dashboard and the log viewer.

Each gathers the page's selectors (the read model's numbers, the chart markers, the
silence check, the alerts, the verdict figures; the log page, its count, its menus and
the saved views) and returns plain data; nothing here knows HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser

from collector.models import Client
from dashboard.models import SavedView
from dashboard.monitors.models import Alert
from dashboard.monitors.selectors.alerts import ChartMarkers, alert_unresolved_list, chart_markers
from dashboard.reviews.selectors import user_label
from dashboard.selectors.logs import (
    LogCount,
    LogFilterOptions,
    LogFilters,
    LogPage,
    log_count,
    log_filter_options,
    log_page,
)
from dashboard.selectors.overview import client_silence
from dashboard.selectors.saved_views import saved_view_list
from dashboard.selectors.stats import (
    DashboardFilters,
    DashboardNumbers,
    client_dashboard_numbers,
    client_has_logs,
)
from dashboard.selectors.verdicts import VerdictFigures, client_verdict_figures
from dashboard.services_saved_views import saved_view_deletable
from flusso_site.errors import ApplicationError

# Unresolved alerts named in the client dashboard's banner (the alerts page has them all).
DASHBOARD_ALERTS_SHOWN = 5


@dataclass(frozen=True)
class ClientDashboardPage:
    numbers: DashboardNumbers
    markers: ChartMarkers
    silent_since: timedelta | None
    open_alerts: list[Alert]
    verdicts: VerdictFigures


def client_dashboard_page(
    *, client: Client, filters: DashboardFilters, compare_query: dict[str, str]
) -> ClientDashboardPage | None:
    """Everything the client dashboard shows for ``filters``; None while the client has
    no logs (the page then says how to connect a workflow)."""
    if not client_has_logs(client=client):
        return None
    return ClientDashboardPage(
        numbers=client_dashboard_numbers(client=client, filters=filters),
        markers=chart_markers(
            client=client,
            start=filters.window.start,
            end=filters.window.end,
            environment=filters.environment,
            compare_query=compare_query,
        ),
        silent_since=client_silence(client=client),
        open_alerts=alert_unresolved_list(client=client, limit=DASHBOARD_ALERTS_SHOWN),
        verdicts=client_verdict_figures(client=client, filters=filters),
    )


@dataclass(frozen=True)
class SavedViewRow:
    view: SavedView
    current: bool
    deletable: bool
    # Named as verdicts' authors are: every user of the client sees it, never an address.
    author: str


@dataclass(frozen=True)
class LogListPage:
    # None when the filters were invalid or the list could not be read (``error`` says).
    page: LogPage | None
    count: LogCount | None
    error: str
    options: LogFilterOptions
    saved_views: list[SavedViewRow]


def log_list_page(
    *,
    client: Client,
    filters: LogFilters | None,
    cursor: str,
    size: int,
    user: AbstractBaseUser,
    current_query: str | None,
) -> LogListPage:
    """The log viewer's page for ``filters`` (None: the form refused them), its match
    count, its menus and the client's saved views (``current_query`` marks the one
    shown)."""
    page = count = None
    error = ""
    if filters is None:
        error = "Some filters are not valid; correct them to see the logs."
    else:
        try:
            count = log_count(client=client, filters=filters)
            page = log_page(client=client, filters=filters, cursor=cursor, size=size, count=count)
        except ApplicationError as exc:  # a cursor edited or made for another sort
            error = exc.message
    saved = [
        SavedViewRow(
            view=view,
            current=view.query == current_query,
            deletable=saved_view_deletable(saved_view=view, user=user),
            author=user_label(view.created_by) if view.created_by else "a former user",
        )
        for view in saved_view_list(client=client)
    ]
    return LogListPage(
        page=page,
        count=count,
        error=error,
        options=log_filter_options(client=client, filters=filters or LogFilters()),
        saved_views=saved,
    )
