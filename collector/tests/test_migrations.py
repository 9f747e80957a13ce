"""Migrations that change what existing rows mean."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_SCOPES = [("collector", "0005_api_key_events")]
WITH_SCOPES = [("collector", "0006_api_key_scopes")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_latest(transactional_db):
    """Whatever a test migrated to, later tests find every migration applied again."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.usefixtures("back_to_latest")
def test_keys_made_before_scopes_existed_become_ingest_only():
    old = _migrate(BEFORE_SCOPES)
    client = old.get_model("collector", "Client").objects.create(name="Old", slug="old-client")
    old.get_model("collector", "ApiKey").objects.create(
        client=client, prefix="0123456789ab", secret_hash="0" * 64
    )
    new = _migrate(WITH_SCOPES)
    key = new.get_model("collector", "ApiKey").objects.get(prefix="0123456789ab")
    assert (key.scope_ingest, key.scope_read) == (True, False)
