"""CSV and JSON exports: the viewer's filters, streamed, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.db.models import query as django_query
from django.urls import reverse

from dashboard.reviews.selectors import VERDICT_EXPORT_COLUMNS
from dashboard.selectors.logs import EXPORT_COLUMNS
from dashboard.tests.fixtures import at, log, seed_fixed_logs


@pytest.fixture
def fixed(client_a, client_b):
    return seed_fixed_logs(client_a, client_b)


def body(response) -> str:
    assert response.streaming, "exports must stream"
    return b"".join(response.streaming_content).decode()


def test_csv_export_has_a_header_and_one_row_per_matching_log(http_a, client_a, fixed):
    response = http_a.get(reverse("dashboard:logs_csv", args=[client_a.slug]), {"status": "FAILED"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="acme-logs-')
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert list(rows[0].keys()) == EXPORT_COLUMNS + VERDICT_EXPORT_COLUMNS
    assert [r["log_id"] for r in rows] == [str(fixed["L3"].log_id), str(fixed["L8"].log_id)]
    assert rows[0]["error_type"] == "ToolTimeout"
    assert rows[0]["timestamp"] == "2026-11-05T08:30:00+00:00"
    assert rows[0]["overall_confidence"] == "0.4"


def test_csv_export_of_nothing_is_just_the_header(http_a, client_a):
    response = http_a.get(reverse("dashboard:logs_csv", args=[client_a.slug]))
    assert body(response).strip() == ",".join(EXPORT_COLUMNS + VERDICT_EXPORT_COLUMNS)


def test_csv_export_neutralises_spreadsheet_formulas(http_a, client_a):
    log(client_a, at(2026, 11, 2), error_message='=HYPERLINK("http://evil")', ticket_id="+1")
    rows = list(
        csv.DictReader(
            io.StringIO(body(http_a.get(reverse("dashboard:logs_csv", args=[client_a.slug]))))
        )
    )
    assert rows[0]["error_message"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["ticket_id"] == "'+1"


def test_json_export_is_an_array_of_the_stored_documents(http_a, client_a, fixed):
    response = http_a.get(
        reverse("dashboard:logs_json", args=[client_a.slug]),
        {"start": "2026-11-01", "end": "2026-11-10", "sort": "time"},
    )
    assert response["Content-Type"] == "application/json"
    documents = json.loads(body(response))
    expected = ["L1", "L10", "L2", "L3", "L4", "L5"]  # oldest first
    assert [d["log_id"] for d in documents] == [str(fixed[n].log_id) for n in expected]


def test_json_export_of_nothing_is_an_empty_array(http_a, client_a):
    response = http_a.get(reverse("dashboard:logs_json", args=[client_a.slug]))
    assert json.loads(body(response)) == []


@pytest.mark.parametrize("name", ["logs_csv", "logs_json"])
def test_exports_never_include_another_clients_logs(http_owner, client_a, fixed, name):
    response = http_owner.get(reverse(f"dashboard:{name}", args=[client_a.slug]))
    assert str(fixed["OTHER"].log_id) not in body(response)


@pytest.mark.parametrize("name", ["logs_csv", "logs_json"])
def test_exports_with_bad_filters_answer_400_in_plain_text(http_a, client_a, name):
    response = http_a.get(
        reverse(f"dashboard:{name}", args=[client_a.slug]), {"confidence_max": "lots"}
    )
    assert response.status_code == 400
    assert "confidence_max: Enter a number." in response.content.decode()


@pytest.mark.parametrize("name", ["logs_csv", "logs_json"])
def test_exports_read_the_database_in_chunks_and_write_row_by_row(
    http_a, client_a, name, monkeypatch
):
    """Rows come from .iterator(chunk_size=...) and leave one by one: memory stays flat."""
    from django.db.models.query import QuerySet

    from dashboard import exports

    calls: list[int | None] = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        calls.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    for hour in range(5):
        log(client_a, at(2026, 11, 2, hour))
    response = http_a.get(reverse(f"dashboard:{name}", args=[client_a.slug]))
    chunks = list(response.streaming_content)
    assert calls == [exports.EXPORT_CHUNK_SIZE]
    # CSV: a header and a line per row; JSON: "[", one piece per document, "]".
    assert len(chunks) == 1 + 5 + (1 if name == "logs_json" else 0)


@pytest.mark.parametrize("name", ["dashboard:logs", "dashboard:logs_csv", "dashboard:logs_json"])
def test_a_time_with_an_offset_past_15_59_is_a_400_not_a_500_or_a_cut_export(
    http_a, client_a, fixed, name
):
    """PostgreSQL refuses such an offset: the list answered 500 and the exports sent 200,
    then ended early."""
    response = http_a.get(reverse(name, args=[client_a.slug]), {"start": "2026-11-30T00:00+16:00"})
    assert response.status_code == 400
    assert not response.streaming
    assert "UTC offset" in response.content.decode()


# The iterable each export reads its rows through (values_list: the log_id first, which
# each chunk's verdicts are read by).
EXPORT_ITERABLES = {
    "dashboard:logs_csv": django_query.ValuesListIterable,
    "dashboard:logs_json": django_query.ValuesListIterable,
}


@pytest.mark.parametrize("name", EXPORT_ITERABLES)
def test_an_export_whose_query_fails_fails_before_its_200(http_a, client_a, fixed, name):
    """The query runs before the response starts, so its failure is an error answer, not
    a 200 whose body stops short."""
    http_a.raise_request_exception = False
    with mock.patch.object(EXPORT_ITERABLES[name], "__iter__", side_effect=DatabaseError):
        response = http_a.get(reverse(name, args=[client_a.slug]))
    assert response.status_code == 500
    assert not response.streaming


@pytest.mark.parametrize("name", EXPORT_ITERABLES)
def test_an_export_that_fails_mid_way_raises_instead_of_ending_quietly(
    http_a, client_a, fixed, name
):
    """Past the first rows, a failure propagates to the server, which aborts the chunked
    body (no final chunk): the download is reported failed, never complete."""
    iterable = EXPORT_ITERABLES[name]
    original = iterable.__iter__

    def rows_then_failure(self):
        yield from original(self)
        if self.queryset.query.high_mark is None:  # the stream, not the one-row check
            raise DatabaseError("connection lost")

    with mock.patch.object(iterable, "__iter__", rows_then_failure):
        response = http_a.get(reverse(name, args=[client_a.slug]))
        assert response.status_code == 200
        with pytest.raises(DatabaseError):
            b"".join(response.streaming_content)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="server-side cursors are PostgreSQL's: runs in CI's PostgreSQL pass",
)
@pytest.mark.parametrize("name", EXPORT_ITERABLES)
def test_an_export_holds_no_cursor_until_it_is_read(http_a, client_a, fixed, name):
    """The query's check before the 200 is a plain query; the streaming cursor opens when
    the body is read. A response nobody reads (a client that gave up) leaves no cursor
    to be closed at some later garbage collection, inside whatever transaction the
    connection is in by then."""
    response = http_a.get(reverse(name, args=[client_a.slug]))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        assert cursor.fetchone() == (0,)
    assert body(response)


# Verdicts in the exports -------------------------------------------------------------


def _verdicts(client_a, fixed):
    from dashboard.reviews.services import verdict_record
    from dashboard.tests.factories import UserFactory

    named = UserFactory(username="ann", email="ann@acme.example", is_staff=True)
    by_email = UserFactory(email="bob@acme.example", is_staff=True)  # username = e-mail
    moment = at(2026, 11, 15, 9)
    verdict_record(
        client=client_a,
        log_id=fixed["L3"].log_id,
        user=named,
        kind="incorrect",
        note="=SUM(A1) wrong date",
        better_answer="Tuesday at 9",
        now=moment,
    )
    verdict_record(
        client=client_a, log_id=fixed["L8"].log_id, user=by_email, kind="correct", now=moment
    )
    return named, by_email


def test_csv_export_carries_each_runs_verdict_and_names_no_email(http_a, client_a, fixed):
    _, by_email = _verdicts(client_a, fixed)
    response = http_a.get(reverse("dashboard:logs_csv", args=[client_a.slug]), {"status": "FAILED"})
    text = body(response)
    rows = {r["log_id"]: r for r in csv.DictReader(io.StringIO(text))}
    judged = rows[str(fixed["L3"].log_id)]
    assert (judged["verdict"], judged["verdict_better_answer"]) == ("incorrect", "Tuesday at 9")
    assert judged["verdict_note"] == "'=SUM(A1) wrong date"  # a formula, neutralised
    assert (judged["verdict_author"], judged["verdict_at"]) == ("ann", "2026-11-15T09:00:00+00:00")
    other = rows[str(fixed["L8"].log_id)]
    assert (other["verdict"], other["verdict_author"]) == ("correct", f"user {by_email.pk}")
    assert "bob@acme.example" not in text


def test_csv_export_leaves_the_verdict_columns_empty_for_runs_without_one(http_a, client_a, fixed):
    response = http_a.get(reverse("dashboard:logs_csv", args=[client_a.slug]))
    for row in csv.DictReader(io.StringIO(body(response))):
        assert [row[c] for c in VERDICT_EXPORT_COLUMNS] == [""] * 5


def test_json_export_carries_each_runs_verdict_or_null(http_a, client_a, fixed):
    _verdicts(client_a, fixed)
    documents = json.loads(body(http_a.get(reverse("dashboard:logs_json", args=[client_a.slug]))))
    by_id = {d["log_id"]: d for d in documents}
    assert by_id[str(fixed["L3"].log_id)]["flusso_verdict"] == {
        "kind": "incorrect",
        "note": "=SUM(A1) wrong date",
        "better_answer": "Tuesday at 9",
        "author": "ann",
        "at": "2026-11-15T09:00:00+00:00",
    }
    assert by_id[str(fixed["L1"].log_id)]["flusso_verdict"] is None


@pytest.mark.parametrize("name", ["logs_csv", "logs_json"])
def test_exports_read_verdicts_once_per_chunk_not_once_per_row(
    http_a, client_a, name, django_assert_max_num_queries, monkeypatch
):
    from dashboard import exports
    from dashboard.reviews.services import verdict_record

    monkeypatch.setattr(exports, "EXPORT_CHUNK_SIZE", 4)
    user = http_a.session["_auth_user_id"]
    from django.contrib.auth import get_user_model

    author = get_user_model().objects.get(pk=user)
    for hour in range(10):
        row = log(client_a, at(2026, 11, 2, hour))
        if hour % 2:
            verdict_record(client=client_a, log_id=row.log_id, user=author, kind="correct")
    response = http_a.get(reverse(f"dashboard:{name}", args=[client_a.slug]))
    # 10 rows in chunks of 4: 3 verdict queries (a query per row would be 10).
    with django_assert_max_num_queries(3 + 3) as queries:
        text = body(response)
    verdict_queries = [q for q in queries.captured_queries if "reviews_verdict" in q["sql"]]
    assert len(verdict_queries) == 3
    assert text.count("correct") == 5
