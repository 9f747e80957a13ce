import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from flusso_site.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


def test_env_str_requires_a_value_without_default(monkeypatch):
    monkeypatch.delenv("FLUSSO_X", raising=False)
    with pytest.raises(ImproperlyConfigured, match="FLUSSO_X"):
        env_str("FLUSSO_X")
    assert env_str("FLUSSO_X", "d") == "d"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("off", False)])
def test_env_bool(monkeypatch, raw, expected):
    monkeypatch.setenv("FLUSSO_X", raw)
    assert env_bool("FLUSSO_X", not expected) is expected


def test_env_bool_refuses_garbage(monkeypatch):
    monkeypatch.setenv("FLUSSO_X", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("FLUSSO_X", False)


def test_env_int_checks_type_and_minimum(monkeypatch):
    monkeypatch.setenv("FLUSSO_X", "12")
    assert env_int("FLUSSO_X", 1) == 12
    monkeypatch.setenv("FLUSSO_X", "twelve")
    with pytest.raises(ImproperlyConfigured):
        env_int("FLUSSO_X", 1)
    monkeypatch.setenv("FLUSSO_X", "-1")
    with pytest.raises(ImproperlyConfigured):
        env_int("FLUSSO_X", 1)


def test_env_list(monkeypatch):
    monkeypatch.setenv("FLUSSO_X", "a.example, b.example,,")
    assert env_list("FLUSSO_X", []) == ["a.example", "b.example"]


def _settings_load(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="flusso_site.settings.service")
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_service_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _settings_load()
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_debug_has_a_development_secret_key():
    assert _settings_load(DEBUG="true").stdout.strip() == "True"


def test_production_starts_with_a_secret_key():
    assert _settings_load(SECRET_KEY="s" * 50).stdout.strip() == "False"


def _setting_printed(expression: str, *, unset: str, **env: str) -> str:
    """What ``expression`` (over ``settings``) is once the service's settings load with
    ``env`` and without the variable ``unset`` (DEBUG on, so no secret key is needed)."""
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    clean = {k: v for k, v in os.environ.items() if k != unset}
    clean.update(DEBUG="true", DJANGO_SETTINGS_MODULE="flusso_site.settings.service", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_redis_url_switches_the_cache_to_redis():
    backend = "settings.CACHES['default']['BACKEND']"
    assert _setting_printed(backend, unset="REDIS_URL") == (
        "django.core.cache.backends.locmem.LocMemCache"
    )
    assert _setting_printed(backend, unset="REDIS_URL", REDIS_URL="redis://127.0.0.1:6379/1") == (
        "django.core.cache.backends.redis.RedisCache"
    )


def test_postgresql_connections_prepare_unless_db_prepared_statements_is_off():
    """Django leaves psycopg's prepare_threshold off; the settings turn it on for
    PostgreSQL (primary and replica) and leave SQLite alone."""
    thresholds = (
        "[settings.DATABASES[a].get('OPTIONS', {}).get('prepare_threshold') "
        "for a in ('default', 'replica') if a in settings.DATABASES]"
    )
    primary = "postgres://postgres@127.0.0.1:5432/flusso"

    def run(**env: str) -> str:
        return _setting_printed(thresholds, unset="DB_PREPARED_STATEMENTS", **env)

    assert run(DATABASE_URL=primary, DATABASE_REPLICA_URL=primary) == "[5, 5]"
    off = run(DATABASE_URL=primary, DATABASE_REPLICA_URL=primary, DB_PREPARED_STATEMENTS="false")
    assert off == "[None, None]"
    assert run(DATABASE_URL="sqlite:///x.sqlite3", DATABASE_REPLICA_URL="") == "[None]"
