"""Every read the dashboards make. Functions take ``client=`` explicitly and return plain data.

- ``access``: which clients a user may see (the basis of tenant scoping).
- ``stats``: a client's numbers and series, aggregated in the database.
- ``overview``: the owner's table of every client (unscoped by design).
- ``logs``: the log viewer's filtered, keyset-paginated lists, exports and details.
"""

from dashboard.selectors.access import client_get_for_user, client_list_for_user
from dashboard.selectors.logs import (
    LogFilters,
    LogPage,
    log_export_queryset,
    log_page,
    log_runs_for_ticket,
)
from dashboard.selectors.overview import (
    ClientOverviewRow,
    client_overview_all_unscoped,
    client_silence,
)
from dashboard.selectors.stats import (
    CalibrationBucket,
    DashboardFilters,
    DashboardNumbers,
    Distributions,
    ErrorBreakdown,
    ErrorGroup,
    HistogramBucket,
    Kpis,
    KpiValues,
    SeriesPoint,
    Window,
    client_dashboard_numbers,
    client_distributions,
    client_errors,
    client_filter_options,
    client_has_logs,
    client_kpis,
    client_time_series,
)

__all__ = [
    "CalibrationBucket",
    "ClientOverviewRow",
    "DashboardFilters",
    "DashboardNumbers",
    "Distributions",
    "ErrorBreakdown",
    "ErrorGroup",
    "HistogramBucket",
    "KpiValues",
    "Kpis",
    "LogFilters",
    "LogPage",
    "SeriesPoint",
    "Window",
    "client_dashboard_numbers",
    "client_distributions",
    "client_errors",
    "client_filter_options",
    "client_get_for_user",
    "client_has_logs",
    "client_kpis",
    "client_list_for_user",
    "client_overview_all_unscoped",
    "client_silence",
    "client_time_series",
    "log_export_queryset",
    "log_page",
    "log_runs_for_ticket",
]
