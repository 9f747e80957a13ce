"""Dashboards served from a real streaming replica, ingestion on the primary.

Needs a hot standby of the test PostgreSQL (``.ci/replica-standby`` makes one on port 5433,
and CI's PostgreSQL pass sets FLUSSO_TEST_STANDBY to it). The service runs under gunicorn
with DATABASE_URL on the primary and DATABASE_REPLICA_URL on the standby; replaying on
the standby is paused to show which server each page reads.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.db import connection

STANDBY = os.environ.get("FLUSSO_TEST_STANDBY", "")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not STANDBY or connection.vendor != "postgresql",
    reason="needs a streaming standby (.ci/replica-standby): runs in CI's PostgreSQL pass",
)


def _primary_url(name: str) -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{name}"


def _sql(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def _wait(condition, what: str, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    name = f"flusso_replica_{uuid.uuid4().hex[:8]}"
    primary, standby = _primary_url(name), f"{STANDBY}/{name}"
    _sql(_primary_url("postgres"), f'CREATE DATABASE "{name}"')
    try:
        yield primary, standby
    finally:
        _sql(f"{STANDBY}/postgres", "SELECT pg_wal_replay_resume()")
        _sql(_primary_url("postgres"), f'DROP DATABASE "{name}" WITH (FORCE)')


def _env(primary: str, standby: str) -> dict[str, str]:
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="flusso_site.settings.service",
        DATABASE_URL=primary,
        DATABASE_REPLICA_URL=standby,
        DEBUG="true",
        SECRET_KEY="replica-test-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def server(databases) -> Iterator[tuple[str, str, str, str]]:
    primary, standby = databases
    env = _env(primary, standby)
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(env, "create_client", "acme", "--name", "Acme")
    key = _manage(env, "create_api_key", "acme").strip()
    _manage(env, "create_user", OWNER[0], "--owner", "--password", OWNER[1])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "flusso_site.wsgi", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _up(url), "gunicorn")
        yield url, key, primary, standby
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/health", timeout=1).ok
    except requests.RequestException:  # not listening yet, or its first answer still slow
        return False


OWNER = ("owner@flusso.example", "pw-Replica-1")


def _login(url: str, login: tuple[str, str] = OWNER) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(
        f"{url}/accounts/login/",
        data={"login": login[0], "password": login[1], "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}/accounts/login/"},
    ).raise_for_status()
    return session


def _ingest(url: str, key: str, ticket: str) -> None:
    response = requests.post(
        f"{url}/api/v1/logs",
        json={"ticket_id": ticket, "status": "SUCCESS", "timestamp": "2026-11-30T09:00:00Z"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def _count(url: str, ticket: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        sql = "SELECT count(*) FROM collector_workflowlog WHERE ticket_id = %s"
        return conn.execute(sql, [ticket]).fetchone()[0]


def _forget_own_write(session: requests.Session) -> None:
    """Drop the cookie that keeps a user who just wrote (logged in) on the primary."""
    session.cookies.set("flusso_read_primary", None)


def test_pages_read_the_replica_while_ingestion_writes_the_primary(server):
    url, key, primary, standby = server
    _ingest(url, key, "T-first")
    _wait(lambda: _count(standby, "T-first") == 1, "the standby to replay the first log")
    owner = _login(url)
    _forget_own_write(owner)
    logs = f"{url}/dashboard/acme/logs/"
    assert "T-first" in owner.get(logs).text
    # The standby replays the whole cluster: other databases' writes (another suite on
    # the same server) can put it a few bytes behind for a moment, so ask until it is.
    _wait(
        lambda: "Read replica: current." in owner.get(f"{url}/dashboard/").text,
        "the overview to say the replica is current",
    )

    _sql(f"{STANDBY}/postgres", "SELECT pg_wal_replay_pause()")
    _ingest(url, key, "T-second")  # the primary takes logs while the replica lags
    assert _count(primary, "T-second") == 1
    page = owner.get(logs).text
    assert "T-first" in page and "T-second" not in page  # served from the paused replica
    overview = owner.get(f"{url}/dashboard/").text
    assert re.search(r"Read replica: [0-9.]+\s*\S+ behind", overview), overview

    _sql(f"{STANDBY}/postgres", "SELECT pg_wal_replay_resume()")
    _wait(lambda: _count(standby, "T-second") == 1, "the standby to catch up")
    assert "T-second" in owner.get(logs).text


def test_who_may_see_a_client_is_read_from_the_primary_even_while_the_replica_lags(server):
    url, key, primary, standby = server
    env = _env(primary, standby)
    login = ("ann@acme.example", "pw-Ann-12345")
    _manage(env, "create_user", login[0], "--client", "acme", "--password", login[1])
    _ingest(url, key, "T-acme")
    _wait(lambda: _count(standby, "T-acme") == 1, "the standby to replay")
    ann = _login(url, login)
    _forget_own_write(ann)
    assert ann.get(f"{url}/dashboard/acme/logs/").status_code == 200
    _sql(f"{STANDBY}/postgres", "SELECT pg_wal_replay_pause()")
    _sql(primary, "DELETE FROM dashboard_membership")  # the owner removes her access
    assert ann.get(f"{url}/dashboard/acme/logs/").status_code == 404


def test_a_users_own_write_is_read_from_the_primary(server):
    url, key, _, _ = server
    owner = _login(url)  # logging in is a write: the next pages read the primary
    _sql(f"{STANDBY}/postgres", "SELECT pg_wal_replay_pause()")
    _ingest(url, key, "T-fresh")
    assert "T-fresh" in owner.get(f"{url}/dashboard/acme/logs/").text
    _forget_own_write(owner)
    assert "T-fresh" not in owner.get(f"{url}/dashboard/acme/logs/").text
