"""Every read the dashboards make. Functions take ``client=`` explicitly and return plain data.

- ``access``: which clients a user may see (the basis of tenant scoping).
- ``stats``: the numbers and series on the dashboards, aggregated in the database.
- ``logs``: the log viewer's filtered, keyset-paginated lists, exports and details.
"""

from dashboard.selectors.access import client_get_for_user, client_list_for_user
from dashboard.selectors.logs import (
    LogFilters,
    LogPage,
    log_detail,
    log_export_queryset,
    log_page,
    log_runs_for_ticket,
)
from dashboard.selectors.stats import (
    CalibrationBucket,
    ClientOverviewRow,
    DashboardFilters,
    ErrorGroup,
    HistogramBucket,
    Kpis,
    KpiValues,
    SeriesPoint,
    Window,
    client_calibration,
    client_errors_by_node,
    client_errors_by_type,
    client_execution_time_histogram,
    client_filter_options,
    client_has_logs,
    client_kpis,
    client_overview_all_unscoped,
    client_time_series,
)

__all__ = [
    "CalibrationBucket",
    "ClientOverviewRow",
    "DashboardFilters",
    "ErrorGroup",
    "HistogramBucket",
    "KpiValues",
    "Kpis",
    "LogFilters",
    "LogPage",
    "SeriesPoint",
    "Window",
    "client_calibration",
    "client_errors_by_node",
    "client_errors_by_type",
    "client_execution_time_histogram",
    "client_filter_options",
    "client_get_for_user",
    "client_has_logs",
    "client_kpis",
    "client_list_for_user",
    "client_overview_all_unscoped",
    "client_time_series",
    "log_detail",
    "log_export_queryset",
    "log_page",
    "log_runs_for_ticket",
]
