"""Settings for the test suite: the service's settings with fast, isolated parts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

from flusso_site.settings.service import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
ALLOWED_HOSTS = ["*"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Compaction after requests would make query counts depend on the clock; the tests that
# pin it turn it on, the others compact where they mean to.
ROLLUP_COMPACT_INTERVAL_SECONDS = -1

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: concurrent tests then lock and wait like production
    # SQLite does (busy timeout), instead of failing at once with "table is locked".
    # One file per test process, so overlapping runs in one checkout never share it.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"flusso-test-{os.getpid()}.sqlite3")
    }
SITE_URL = "http://testserver"
