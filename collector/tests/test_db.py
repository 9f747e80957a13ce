import pytest
from django.db import connection

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
