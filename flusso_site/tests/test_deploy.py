"""``manage.py check --deploy`` is clean with the production settings the README gives."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

MANAGE = Path(settings.BASE_DIR) / "manage.py"

# The README's "Running in production" values behind a TLS-terminating proxy.
README_PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "flusso.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://flusso.example.com",
    "SECURE_PROXY_SSL_HEADER": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    # Without mail, password resets are refused and a check says so (flusso.W001).
    "EMAIL_HOST": "smtp.example.com",
    # Without it the limits count per worker process and a check says so (flusso.W002).
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # Without it mail cannot link to the dashboard and a check says so (flusso.W003).
    "SITE_URL": "https://flusso.example.com",
}


def check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    # Only what a production machine would set: the test run's own variables (such as
    # DJANGO_ALLOW_ASYNC_UNSAFE for the browser tests) would be warned about.
    env = {"PATH": os.environ["PATH"]}
    env |= README_PRODUCTION_ENV | {"SECRET_KEY": secrets.token_urlsafe(50)} | overrides
    env["DJANGO_SETTINGS_MODULE"] = "flusso_site.settings.service"
    return subprocess.run(
        [sys.executable, str(MANAGE), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_nothing_with_the_readme_production_settings():
    result = check_deploy()
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("variable", "warning"),
    [
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "security.W005"),
        ("SECURE_HSTS_PRELOAD", "security.W021"),
        ("SECURE_SSL_REDIRECT", "security.W008"),
    ],
)
def test_each_hardening_variable_is_what_silences_its_warning(variable, warning):
    result = check_deploy(**{variable: "false"})
    assert result.returncode != 0
    assert warning in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("variable", "warning"),
    [("REDIS_URL", "flusso.W002"), ("EMAIL_HOST", "flusso.W001"), ("SITE_URL", "flusso.W003")],
)
def test_without_a_shared_cache_or_mail_the_deploy_check_says_so(variable, warning):
    """Without REDIS_URL every worker counts a client's limits alone; without EMAIL_HOST
    resets are refused; without SITE_URL mail cannot link to the dashboard: each is warned
    about, not silently accepted."""
    result = check_deploy(**{variable: ""})
    assert result.returncode != 0
    assert warning in result.stderr + result.stdout
