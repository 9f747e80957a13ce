"""The log viewer's CSV and JSON exports: the filtered logs, each with its current verdict.

They stream: rows come from the database in chunks and leave one by one, so memory stays
flat whatever the number of logs. Like every client page they are wrapped by
``scoping.client_view``; the filters are the log viewer's (``LogFilterForm``).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone

from collector.models import Client
from dashboard.forms import LogFilterForm
from dashboard.reviews.selectors import (
    VERDICT_EXPORT_COLUMNS,
    verdict_export_object,
    verdict_export_values,
    verdicts_for_logs,
)
from dashboard.scoping import client_view
from dashboard.selectors import log_export_queryset
from dashboard.selectors.logs import EXPORT_COLUMNS
from flusso_site.routers import read_database

# Rows fetched per database round trip while streaming an export: large enough to keep
# round trips few, small enough that memory stays flat.
EXPORT_CHUNK_SIZE = 2000


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


def _with_verdicts(rows: Iterator[Any], *, client: Client, using: str) -> Iterator[tuple[Any, Any]]:
    """(row, its verdict or None) for rows whose first value is the log_id: the verdicts
    of each chunk of rows come in one query (never one per row)."""
    while chunk := list(islice(rows, EXPORT_CHUNK_SIZE)):
        verdicts = verdicts_for_logs(client=client, log_ids=[row[0] for row in chunk], using=using)
        for row in chunk:
            yield row, verdicts.get(row[0])


def _export_name(client: Client, extension: str) -> str:
    return f"{client.slug}-logs-{timezone.now():%Y%m%d-%H%M%S}.{extension}"


@client_view
def log_export_csv(request: HttpRequest, *, client: Client) -> HttpResponse:
    form = LogFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(_form_errors_text(form), content_type="text/plain")
    # Read while streaming, after this view has returned: bound to the database now.
    database = read_database()
    queryset = log_export_queryset(client=client, filters=form.filters()).using(database)
    writer = csv.writer(_Echo())

    def lines(rows: Iterator[Any]) -> Iterator[str]:
        yield writer.writerow([*EXPORT_COLUMNS, *VERDICT_EXPORT_COLUMNS])
        for values, verdict in _with_verdicts(rows, client=client, using=database):
            cells = [*values, *verdict_export_values(verdict)]
            yield writer.writerow([_csv_cell(v) for v in cells])

    response = StreamingHttpResponse(
        _export_body(queryset.values_list(*EXPORT_COLUMNS), lines),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{_export_name(client, "csv")}"'
    return response


@client_view
def log_export_json(request: HttpRequest, *, client: Client) -> HttpResponse:
    """A JSON array of the stored documents, written one document at a time, each with
    its current verdict under ``flusso_verdict`` (a name no workflow log uses)."""
    form = LogFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(_form_errors_text(form), content_type="text/plain")
    database = read_database()
    queryset = log_export_queryset(client=client, filters=form.filters()).using(database)

    def chunks(rows: Iterator[Any]) -> Iterator[str]:
        yield "["
        separator = "\n"
        for (_, document), verdict in _with_verdicts(rows, client=client, using=database):
            if isinstance(document, dict):
                document = {**document, "flusso_verdict": verdict_export_object(verdict)}
            yield separator + json.dumps(document, ensure_ascii=False)
            separator = ",\n"
        yield "\n]\n"

    response = StreamingHttpResponse(
        _export_body(queryset.values_list("log_id", "document"), chunks),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="{_export_name(client, "json")}"'
    return response
