"""Settings every environment shares. Values that differ come from the environment only."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from flusso_site.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", False)

# A development fallback exists only while DEBUG is on; production must set its own.
_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else None)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    # Before staticfiles so runserver serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "collector",
    "dashboard",
    "dashboard.monitors",
    "dashboard.reviews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Answers static files itself: the middleware below never touch them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "flusso_site.middleware.NoStoreMiddleware",
    # Inside the header middleware above, so the JSON it substitutes carries their headers.
    "flusso_site.middleware.ApiJsonErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # The user's own time zone for every page (their account setting, else TIME_ZONE).
    "dashboard.middleware.UserTimeZoneMiddleware",
    # REQUIRE_MFA_FOR_STAFF: staff without an authenticator see only the account pages.
    "dashboard.accounts.StaffMfaRequiredMiddleware",
    "flusso_site.routers.PrimaryAfterWriteMiddleware",
    "collector.fairness.ClientSlotMiddleware",
]

# Headers (README, "Headers we send"). Scripts, styles and everything else load from our
# own origin only; no inline script runs (figures are JSON data blocks, handlers live in
# static/js). django-csp builds the header; a page that needs more says so with its
# decorators (csp_update), never by loosening this.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # plotly.js (7.1's bundle) appends two <style> elements: an empty one it fills
        # through the CSSOM (which CSP does not govern) and maplibre's fixed stylesheet.
        # Their hashes allow exactly those; style attributes and any other inline
        # style stay blocked. An upgrade that changes them fails the browser tests.
        "style-src": [
            "'self'",
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
            "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
        ],
        # data: images: Swagger UI's icons (in its stylesheet) and allauth's TOTP QR code.
        # An image cannot run script, and an SVG drawn as an <img> runs none of its own.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Browser features no page of ours uses, denied to every page and anything it embeds.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
}

ROOT_URLCONF = "flusso_site.urls"
WSGI_APPLICATION = "flusso_site.wsgi.application"
ASGI_APPLICATION = "flusso_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is a SQLite file beside manage.py; production sets DATABASE_URL
# to PostgreSQL (postgres://user:password@host:5432/name).
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Django turns psycopg's prepared statements off (for PgBouncer in transaction mode). Its
# own cursors bind client-side and never prepare anyway; the few statements every API
# request runs on a server-binding cursor (the key lookup and the store, collector.db) are
# then parsed and planned once per connection (and again after a rollback) instead of on
# every request: about 40 % of a single log's database time. Off behind a pooler that
# cannot keep them (docs/scaling.md).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)


def _postgresql_options(database: dict) -> dict:
    if database["ENGINE"] == "django.db.backends.postgresql" and DB_PREPARED_STATEMENTS:
        database.setdefault("OPTIONS", {})["prepare_threshold"] = 5
    return database


_postgresql_options(DATABASES["default"])
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while the collector writes; IMMEDIATE transactions
    # take the write lock up front instead of failing with "database is locked" mid-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # The rollups' covering indexes (INCLUDE) are a PostgreSQL speed-up; SQLite ignores
    # the included columns and says so at every start: expected, not a problem.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

# A PostgreSQL streaming replica for the dashboards' reads (docs/scaling.md): pages and
# exports read it, ingestion and every write stay on the primary (flusso_site.routers).
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = _postgresql_options(
        dj_database_url.parse(
            DATABASE_REPLICA_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    )
DATABASE_ROUTERS = ["flusso_site.routers.ReplicaRouter"]
# Seconds after a user's own write (a form they posted) during which their pages read the
# primary, so they see what they just did even while the replica lags.
REPLICA_STICKY_SECONDS = env_int("REPLICA_STICKY_SECONDS", 10)

# The cache holds rate-limit counters (the API's per-key limit, allauth's login limits).
# In-process by default, so each worker counts alone; set REDIS_URL to share them.
REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Request bodies never reach the logs: 4xx answers are logged by path only.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

# Where the service is reached from outside, for absolute links in mail (weekly reports,
# alert e-mails): scheme and host, no trailing slash. Required for sending mail in
# production; the development server's address while DEBUG is on.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
