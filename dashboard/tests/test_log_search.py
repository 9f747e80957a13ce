"""Full-text search in the log viewer (``?q=``): what it finds, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection, transaction
from django.urls import reverse

from collector.search import SEARCH_INDEX_NAME, SEARCH_MATCH_SQL
from collector.services.store import logs_store
from collector.tests.factories import WorkflowLogFactory
from dashboard.forms import LogFilterForm
from dashboard.selectors import LogFilters, log_export_queryset, log_page
from dashboard.tests.fixtures import at

pytestmark = pytest.mark.django_db


def _document(**trace_and_error):
    error = trace_and_error.pop("error", None)
    return {"ticket_id": "T", "status": "SUCCESS", "error": error, "trace": trace_and_error}


def _log(client, when, document, **fields):
    return WorkflowLogFactory(client=client, timestamp=when, document=document, **fields)


@pytest.fixture
def searchable(client_a, client_b):
    """One log per searched part of the document, and one whose words are only keys."""
    return {
        "ticket": _log(
            client_a,
            at(2026, 11, 1, 9),
            _document(ticket={"description": "My Faucet drips at night", "tags": ["plumbing"]}),
        ),
        "thought": _log(
            client_a,
            at(2026, 11, 2, 9),
            _document(react={"iterations": [{"thought": "Identify the cartridge model"}]}),
        ),
        "observation": _log(
            client_a,
            at(2026, 11, 3, 9),
            _document(react={"iterations": [{"observation": "Top match AURORA score 0.91"}]}),
            status="FAILED",
        ),
        "answer": _log(
            client_a,
            at(2026, 11, 4, 9),
            _document(output={"text": "Your faucet needs cartridge CRT35"}),
        ),
        "error": _log(
            client_a,
            at(2026, 11, 5, 9),
            _document(error={"type": "ToolTimeout", "message": "warehouse lookup timed out"}),
            status="ERROR",
        ),
        # "faucet" only as a key, and in a part that is not searched (planning).
        "unsearched": _log(
            client_a,
            at(2026, 11, 6, 9),
            _document(planning={"faucet": "x", "steps": ["warehouse cartridge"]}),
        ),
        # Another client's log with the same words: never found from client_a.
        "other": _log(
            client_b,
            at(2026, 11, 4, 10),
            _document(output={"text": "faucet cartridge warehouse"}),
        ),
    }


def _found(client, q, **filters):
    page = log_page(client=client, filters=LogFilters(q=q, **filters))
    return {row.pk for row in page.rows}


def test_search_finds_each_searched_part_and_nothing_else(client_a, searchable):
    logs = searchable
    assert _found(client_a, "drips") == {logs["ticket"].pk}
    assert _found(client_a, "plumbing") == {logs["ticket"].pk}
    assert _found(client_a, "identify") == {logs["thought"].pk}
    assert _found(client_a, "aurora") == {logs["observation"].pk}
    assert _found(client_a, "CRT35") == {logs["answer"].pk}
    assert _found(client_a, "warehouse") == {logs["error"].pk}
    assert _found(client_a, "tooltimeout") == {logs["error"].pk}


def test_search_is_case_insensitive_and_ands_words(client_a, searchable):
    logs = searchable
    assert _found(client_a, "FAUCET") == {logs["ticket"].pk, logs["answer"].pk}
    assert _found(client_a, "faucet cartridge") == {logs["answer"].pk}
    assert _found(client_a, "faucet nothere") == set()


def test_search_excludes_a_word_with_a_minus(client_a, searchable):
    assert _found(client_a, "faucet -cartridge") == {searchable["ticket"].pk}


@pytest.fixture(params=["selective", "walking the sort index"])
def search_plan(request, monkeypatch):
    """Both ways a PostgreSQL search reads its rows (elsewhere the same either way)."""
    from dashboard.selectors import logs as log_selectors

    monkeypatch.setattr(
        log_selectors, "SELECTIVE_MATCHES", 10**6 if request.param == "selective" else 0
    )
    return request.param


@pytest.mark.parametrize("sort", ["time", "-time", "-confidence", "duration"])
def test_search_pages_in_order_either_way_it_is_read(client_a, searchable, search_plan, sort):
    expected = [
        row.pk for row in log_page(client=client_a, filters=LogFilters(sort=sort), size=100).rows
    ]
    expected = [pk for pk in expected if pk in _found(client_a, "faucet")]
    seen, cursor = [], ""
    while True:
        page = log_page(
            client=client_a, filters=LogFilters(q="faucet", sort=sort), cursor=cursor, size=1
        )
        seen += [row.pk for row in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected


def test_search_combines_with_filters_and_sorts(client_a, searchable, search_plan):
    logs = searchable
    assert _found(client_a, "cartridge", status="FAILED") == set()
    assert _found(client_a, "aurora", status="FAILED") == {logs["observation"].pk}
    assert _found(client_a, "faucet", start=at(2026, 11, 2)) == {logs["answer"].pk}
    page = log_page(client=client_a, filters=LogFilters(q="faucet", sort="time"), size=1)
    assert [row.pk for row in page.rows] == [logs["ticket"].pk]
    after = log_page(
        client=client_a, filters=LogFilters(q="faucet", sort="time"), cursor=page.next_cursor
    )
    assert [row.pk for row in after.rows] == [logs["answer"].pk]
    assert after.next_cursor is None


@pytest.mark.parametrize("q", ['"', "-", "!!!", "&|:*", "'", '"unclosed', "(", "\\", "%", "_"])
def test_search_of_odd_text_matches_nothing_and_never_errors(client_a, searchable, q):
    assert _found(client_a, q) == set()


def test_search_like_wildcards_are_literal_on_every_database(client_a):
    _log(client_a, at(2026, 11, 1), _document(output={"text": "discount 100% off"}))
    _log(client_a, at(2026, 11, 2), _document(output={"text": "discount 1000 off"}))
    assert len(_found(client_a, "discount")) == 2
    assert len(_found(client_a, "10_")) == 0


def test_form_takes_q_strips_it_and_bounds_its_length():
    form = LogFilterForm({"q": "  faucet drips  "})
    assert form.is_valid()
    assert form.filters().q == "faucet drips"
    assert not LogFilterForm({"q": "x" * 201}).is_valid()
    assert not LogFilterForm({"q": "a\x00b"}).is_valid()


def test_exports_carry_the_search(http_a, client_a, searchable):
    csv_body = b"".join(
        http_a.get(reverse("dashboard:logs_csv", args=[client_a.slug]), {"q": "faucet"})
    ).decode()
    lines = csv_body.strip().splitlines()
    assert len(lines) == 3
    assert str(searchable["answer"].log_id) in csv_body
    assert str(searchable["other"].log_id) not in csv_body
    response = http_a.get(reverse("dashboard:logs_json", args=[client_a.slug]), {"q": "aurora"})
    documents = json.loads(b"".join(response.streaming_content))
    assert [d["trace"]["react"]["iterations"][0]["observation"] for d in documents] == [
        "Top match AURORA score 0.91"
    ]


def test_export_queryset_search_matches_the_page(client_a, searchable):
    filters = LogFilters(q="faucet")
    assert set(
        log_export_queryset(client=client_a, filters=filters).values_list("pk", flat=True)
    ) == (_found(client_a, "faucet"))


def test_log_viewer_page_searches(http_a, client_a, searchable):
    response = http_a.get(reverse("dashboard:logs", args=[client_a.slug]), {"q": "aurora"})
    assert response.status_code == 200
    body = response.content.decode()
    assert str(searchable["observation"].log_id) in body
    assert str(searchable["answer"].log_id) not in body
    assert 'value="aurora"' in body


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index is PostgreSQL's")
def test_postgresql_search_reads_the_gin_index_of_every_partition(client_a, searchable):
    # Enough of the client's logs in the month that its client index is no help, as at
    # any real size; analysed, so the planner knows the word searched is rare.
    noise = WorkflowLogFactory.build_batch(
        300,
        client=client_a,
        timestamp=at(2026, 11, 20),
        document=_document(output={"text": "nothing to see"}),
    )
    # A word no other test's logs hold ("aurora" is the demo client's name, and a suite
    # that leaves demo logs behind made it look common, so the planner took another index).
    rare = _document(output={"text": "the xylophonequartz part"})
    noise.append(
        WorkflowLogFactory.build(client=client_a, timestamp=at(2026, 11, 21), document=rare)
    )
    logs_store(client_id=client_a.pk, logs=noise)
    qs = log_export_queryset(client=client_a, filters=LogFilters(q="xylophonequartz")).order_by()
    with connection.cursor() as cursor:
        # The partitions' copies of the index (ATTACH and CREATE INDEX on the parent make
        # them), by name, to find them in the plan.
        cursor.execute(
            "SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = inhrelid "
            "WHERE inhparent = to_regclass(%s)",
            [SEARCH_INDEX_NAME],
        )
        partition_indexes = {row[0] for row in cursor.fetchall()}
        cursor.execute("ANALYZE collector_workflowlog")
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass",
            ["collector_workflowlog"],
        )
        assert len(partition_indexes) == cursor.fetchone()[0]
        # On a handful of rows a sequential scan is cheaper; the planner must still be
        # able to use the index, which is what this pins (bench/search.py measures it
        # at a million logs). The search's own predicate, alone: with the client's filter
        # as well, a long suite's rolled-back inserts (which leave index pages behind)
        # made the client index look cheaper in one month, whatever the data.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM collector_workflowlog WHERE {SEARCH_MATCH_SQL}",  # noqa: S608 (constants)
            ["xylophonequartz"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan" in plan, plan
    assert all(name in plan for name in partition_indexes), plan
    # ... and the viewer's query filters by that very predicate, which the index serves.
    sql, params = qs.values("pk").query.sql_with_params()
    assert '"search_vector" @@ websearch_to_tsquery' in sql, sql
    assert "xylophonequartz" in params


def _page_plan(client, q: str) -> str:
    """The plan of a page's query when sorting is all but forbidden: a plan that can
    take its order from an index does."""
    qs = log_export_queryset(client=client, filters=LogFilters(q=q))[:51]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        sql, params = qs.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index is PostgreSQL's")
def test_a_selective_search_is_sorted_from_its_matches_not_walked_along_the_sort_index(
    client_a, searchable, monkeypatch
):
    """At a million logs the planner walked the time index checking every log for a rare
    word (seconds); a search matching few logs orders by an expression no index has, so
    its matches come from the search index and are sorted; one matching many keeps the
    sort's index (a page is then the first few thousand rows of it at most)."""
    from dashboard.selectors import logs as log_selectors

    selective = _page_plan(client_a, "aurora")
    assert "Sort" in selective, selective
    assert "log_client_time" not in selective and "timestamp_id_idx" not in selective, selective
    monkeypatch.setattr(log_selectors, "SELECTIVE_MATCHES", 0)
    walking = _page_plan(client_a, "aurora")
    assert "Sort" not in walking.replace("Sort Key", ""), walking
    assert "timestamp_id_idx" in walking, walking
    # ... and checks each log's stored vector on the way, not the search index (whose
    # every match the planner would otherwise read and sort, for a common phrase).
    assert "search_vector_idx" not in walking and "ts_match_vq" in walking, walking


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")
def test_a_new_month_moves_its_logs_from_the_default_partition_still_searchable(client_a):
    """partition_create copies rows without the generated column, which the new month
    computes again; logs stored after it are searchable too."""
    from collector import partitions

    moment = at(2003, 6, 10, 12)
    moved = _log(client_a, moment, _document(output={"text": "ancient gizmo"}))
    assert partitions.partition_create(moment) is True
    later = _log(client_a, at(2003, 6, 11), _document(output={"text": "newer gizmo"}))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, search_vector::text FROM collector_workflowlog "
            "WHERE id = %s",
            [moved.pk],
        )
        table, vector = cursor.fetchone()
    assert table == partitions.partition_name(partitions.month_start(moment))
    assert "'ancient'" in vector
    assert _found(client_a, "gizmo") == {moved.pk, later.pk}
    assert _found(client_a, "ancient") == {moved.pk}


def test_a_document_whose_text_would_overflow_a_tsvector_is_stored_and_searchable(client_a):
    """PostgreSQL's tsvector holds at most 1 MiB, and 840 KB of short distinct words under
    the 1 MiB document limit made 1.29 MB: the insert failed, and with it the whole batch
    (a 503 retried for ever). Such a document is now indexed on its beginning, and the
    batch around it is stored."""
    import hashlib

    from django.test import Client as HttpClient

    from collector.models import WorkflowLog
    from collector.tests.factories import ApiKeyFactory, log_document

    words = " ".join(hashlib.sha256(str(i).encode()).hexdigest()[:6] for i in range(120_000))
    big = log_document(client_id=client_a.slug, trace={"output": {"answer": f"zebrafirst {words}"}})
    small = log_document(client_id=client_a.slug, trace={"output": {"answer": "a small one"}})
    assert len(json.dumps(big)) < 1024 * 1024
    key = ApiKeyFactory(client=client_a)
    response = HttpClient().post(
        reverse("collector:log-batch-ingest"),
        {"logs": [small, big]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key.raw_key}"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2
    assert WorkflowLog.objects.for_client(client_a).count() == 2
    (found,) = _found(client_a, "zebrafirst")
    assert WorkflowLog.objects.get(pk=found).log_id == uuid.UUID(big["log_id"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the walk is PostgreSQL's")
def test_a_walk_past_its_time_is_read_from_the_search_index_instead(db):
    """A walk along the sort's index reads every log before its matches when they are
    bunched far down the list (0.3 s at 150,000 newer logs, growing with them): past
    WALK_TIMEOUT_MS it is cancelled and the page read from the search index. The page's
    transaction goes on, with its own statement timeout."""
    from dashboard.selectors import logs as log_selectors

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    def slow() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")
        return "walked"

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '30s'")
        found = log_selectors._walk_or_search(
            db="default", walk=slow, search_instead=lambda: "searched"
        )
        assert found == "searched"
        assert setting() == "30s"
        quick = log_selectors._walk_or_search(
            db="default", walk=lambda: "walked", search_instead=lambda: "searched"
        )
        assert quick == "walked" and setting() == "30s"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the walk is PostgreSQL's")
@pytest.mark.parametrize("sort", ["-time", "confidence"])
def test_a_cancelled_walks_page_and_neighbours_are_the_walks_own(
    client_a, searchable, monkeypatch, sort
):
    """What the search index gives instead is the same page, cursors and neighbours."""
    from dashboard.selectors import logs as log_selectors

    monkeypatch.setattr(log_selectors, "SELECTIVE_MATCHES", 0)  # every search walks
    filters = LogFilters(q="faucet cartridge or warehouse", sort=sort)
    walked = log_page(client=client_a, filters=filters, size=2)
    beside = log_selectors.log_neighbours(client=client_a, filters=filters, log=walked.rows[0])
    then = log_page(client=client_a, filters=filters, size=2, cursor=walked.next_cursor)
    cancelled = []

    def cancel(*, db, walk, search_instead):
        cancelled.append(db)
        return search_instead()

    monkeypatch.setattr(log_selectors, "_walk_or_search", cancel)
    instead = log_page(client=client_a, filters=filters, size=2)
    assert cancelled == ["default"]  # the page's walk is the bounded one
    assert [r.pk for r in instead.rows] == [r.pk for r in walked.rows]
    assert instead.next_cursor == walked.next_cursor
    assert (
        log_selectors.log_neighbours(client=client_a, filters=filters, log=walked.rows[0]) == beside
    )
    after = log_page(client=client_a, filters=filters, size=2, cursor=instead.next_cursor)
    assert [r.pk for r in after.rows] == [r.pk for r in then.rows]
