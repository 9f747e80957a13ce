import psycopg
import pytest
from django.db import NotSupportedError, ProgrammingError, connection, transaction

from collector.db import server_bound_fetch
from collector.keys import key_parse
from collector.selectors import api_key_get_for_auth
from collector.services import log_ingest
from collector.tests.factories import ApiKeyFactory, ClientFactory, log_document

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL only (server-side binding is psycopg's): runs in CI's PostgreSQL pass",
    ),
]


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_bound_by_the_server_and_counted_like_djangos_own(
    django_assert_num_queries,
):
    with django_assert_num_queries(1) as captured:
        rows = server_bound_fetch(connection, "SELECT %s::int + 1, %s::text", [41, "x"])
    assert rows == [(42, "x")]
    assert captured.captured_queries[0]["sql"] == "SELECT %s::int + 1, %s::text"
    assert server_bound_fetch(connection, "SET LOCAL statement_timeout = 0", []) == []


def test_ingestion_prepares_its_statements_once_per_connection():
    client = ClientFactory()
    api_key = ApiKeyFactory(client=client)
    prefix = key_parse(api_key.raw_key).prefix
    for _ in range(6):  # psycopg prepares a statement on its fifth run
        assert api_key_get_for_auth(prefix=prefix) is not None
        assert log_ingest(client=client, document=log_document()).status == "created"
    prepared = _prepared()
    assert any("jsonb_to_recordset" in statement for statement in prepared), prepared
    assert any('WHERE k."prefix" = $1' in statement for statement in prepared), prepared


def test_a_failed_statement_is_counted_too(django_assert_num_queries):
    with django_assert_num_queries(1), pytest.raises(ProgrammingError):
        server_bound_fetch(connection, "SELECT no_such_column FROM collector_client", [])


def _other_session() -> psycopg.Connection:
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key not in ("cursor_factory", "context", "prepare_threshold")
    }
    return psycopg.connect(**params, autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_reopened_as_djangos_health_check_does():
    assert server_bound_fetch(connection, "SELECT 1", []) == [(1,)]
    pid = server_bound_fetch(connection, "SELECT pg_backend_pid()", [])[0][0]
    with _other_session() as other:
        # Waits (up to 5 s) until the backend has gone: termination is only a signal.
        assert other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
    connection.health_check_done = False  # a new request: Django checks once per request
    assert server_bound_fetch(connection, "SELECT 2", []) == [(2,)]
    assert server_bound_fetch(connection, "SELECT pg_backend_pid()", [])[0][0] != pid


@pytest.mark.django_db(transaction=True)
def test_a_prepared_statement_survives_a_migration_that_changes_its_result_type():
    """After ALTER ... TYPE, PostgreSQL refuses the prepared form ("cached plan must not
    change result type"): outside a transaction the statement is run again on a fresh
    connection; inside one the error is raised, and the rollback clears it."""
    sql = "SELECT v FROM flusso_plan_probe"
    with _other_session() as other:
        other.execute("CREATE TABLE flusso_plan_probe (v int)")
        try:
            other.execute("INSERT INTO flusso_plan_probe VALUES (7)")
            for _ in range(6):  # prepared from the fifth run on
                assert server_bound_fetch(connection, sql, []) == [(7,)]
            other.execute("ALTER TABLE flusso_plan_probe ALTER v TYPE bigint")
            assert server_bound_fetch(connection, sql, []) == [(7,)]
            for _ in range(6):
                assert server_bound_fetch(connection, sql, []) == [(7,)]
            other.execute("ALTER TABLE flusso_plan_probe ALTER v TYPE numeric")
            with pytest.raises(NotSupportedError), transaction.atomic():
                server_bound_fetch(connection, sql, [])
            assert server_bound_fetch(connection, sql, []) == [(7,)]
        finally:
            connection.close()
            other.execute("DROP TABLE flusso_plan_probe")
