"""Flusso shipper: builds one privacy-safe log per workflow run and ships it to the collector.

    from shipper import build_workflow_log, ship_log_async

    ship_log_async(build_workflow_log(state, start_time, end_time))

Configuration comes from the environment (``LOG_COLLECTOR_URL``, ``LOG_COLLECTOR_API_KEY``,
``CLIENT_ID``, ...) or ``configure(...)``. See docs/shipper.md.
"""

from ._version import __version__
from .builder import build_workflow_log
from .client import configure, flush, ship_log_async, shutdown, stats
from .privacy import hash_pii, sanitize

__all__ = [
    "__version__",
    "build_workflow_log",
    "configure",
    "flush",
    "hash_pii",
    "sanitize",
    "ship_log_async",
    "shutdown",
    "stats",
]
