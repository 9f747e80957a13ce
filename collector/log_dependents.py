"""Data other apps keep about logs, which must go when the logs go and be rebuilt with
the read model.

The collector never imports those apps (they build on it, not the other way round):
each one describes its data here once, from its ``AppConfig.ready()``, and retention and
``rebuild_rollups`` call every description they find. Today there is one, the verdicts of
``dashboard.reviews``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LogDependent:
    # What the rebuild's summary calls the rows it recounts ("verdict(s)").
    noun: str
    # Deletes what belongs to these logs of one client, in the caller's transaction.
    delete_for_logs: Callable[..., int]
    # Deletes what belongs to the logs of these clients in [start, end): a dropped month.
    delete_for_span: Callable[..., int]
    # Recounts its own read model of these clients; how many rows it counted.
    rebuild: Callable[..., int]


_dependents: dict[str, LogDependent] = {}


def log_dependent_register(dependent: LogDependent) -> None:
    """Register once per noun (``ready()`` may run twice in tests: the last one stands)."""
    _dependents[dependent.noun] = dependent


def log_dependents() -> tuple[LogDependent, ...]:
    return tuple(_dependents.values())


def dependents_delete_for_logs(*, client_id: int, log_ids: Iterable[uuid.UUID]) -> None:
    ids = list(log_ids)
    for dependent in log_dependents():
        dependent.delete_for_logs(client_id=client_id, log_ids=ids)


def dependents_delete_for_span(
    *, client_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> None:
    ids = list(client_ids)
    for dependent in log_dependents():
        dependent.delete_for_span(client_ids=ids, start=start, end=end)
