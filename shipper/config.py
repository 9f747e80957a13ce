"""Configuration: read once from the environment, overridable with ``configure(...)``.

The environment names are the ones the original workflow used (``CLIENT_ID``,
``LOG_COLLECTOR_URL``, ``LOG_COLLECTOR_API_KEY``, ``ENABLE_CENTRALIZED_LOGGING``,
``ENVIRONMENT``) plus ``LOG_PII_SALT``, ``LOG_SPOOL_DIR`` and the ``LOG_SHIPPER_*`` tuning knobs.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("shipper")

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    logger.warning("shipper: %s=%r is not a boolean; using %s", name, raw, default)
    return default


def _env_num(env: Mapping[str, str], name: str, default: float, kind: type = float) -> Any:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        logger.warning("shipper: %s=%r is not a number; using %s", name, raw, default)
        return default
    if not math.isfinite(value):
        # inf or nan would reach queue and socket timeouts, which refuse them.
        logger.warning("shipper: %s=%r is not a finite number; using %s", name, raw, default)
        return default
    if value < 0:
        logger.warning("shipper: %s=%r is negative; using %s", name, raw, default)
        return default
    return value


def _env_str(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    return raw or None


def endpoints(url: str) -> dict[str, str]:
    """Derive the collector's endpoints from ``LOG_COLLECTOR_URL``.

    The documented form is the single-log endpoint (``https://host/api/v1/logs``); the API's
    root (``https://host/api/v1``), its batch, health or whoami endpoint and a bare service
    address (``https://host``) are accepted too.
    """
    url = url.strip().rstrip("/")
    if url.endswith("/logs/batch"):
        url = url[: -len("/batch")]
    for other in ("/health", "/whoami"):  # another endpoint of the same API pasted in
        if url.endswith("/api/v1" + other):
            url = url[: -len(other)]
    if url.endswith("/api/v1"):  # the API's root: the logs endpoint is right below it
        url = url + "/logs"
    if not url.endswith("/logs"):
        url = url + "/api/v1/logs"
    base = url[: -len("/logs")]
    return {
        "logs": url,
        "batch": url + "/batch",
        "base": base,
        "health": base + "/health",
        "whoami": base + "/whoami",
    }


@dataclass(frozen=True)
class Config:
    """Everything the shipper reads from its environment. Immutable; replace via ``configure``."""

    client_id: str | None = None
    collector_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    enabled: bool = True
    environment: str = "production"
    pii_salt: str | None = field(default=None, repr=False)
    spool_dir: str | None = None

    # In-memory queue bound: 10,000 logs of a few KiB each stays well under 100 MiB of RAM.
    max_queue_size: int = 10_000
    # The collector accepts 1..500 logs per batch; 100 keeps a batch small enough to retry.
    batch_size: int = 100
    # The collector accepts 10 MiB decompressed per batch; stay well under it.
    batch_max_bytes: int = 4 * 1024 * 1024
    # A batch closes at this age (seconds) even if not full.
    flush_interval: float = 1.0
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    # Attempts per batch before it goes to the spool (or is dropped without one).
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # The longest Retry-After we honour; a misbehaving proxy must not park the worker for a day.
    retry_after_max: float = 300.0
    # Bound on the spool directory: oldest files go first past it.
    spool_max_bytes: int = 100 * 1024 * 1024
    # Bound on one built log; the collector's own limit is 1 MiB per document.
    max_log_bytes: int = 256 * 1024
    # How long the interpreter-exit flush may take before the rest is spooled.
    exit_timeout: float = 2.0
    # Below this body size gzip costs more CPU than it saves bytes.
    gzip_min_bytes: int = 1024

    @property
    def configured(self) -> bool:
        """True when logs should be shipped at all."""
        return bool(self.enabled and self.collector_url)

    @property
    def urls(self) -> dict[str, str]:
        if not self.collector_url:
            raise ValueError("LOG_COLLECTOR_URL is not set")
        return endpoints(self.collector_url)

    @property
    def key_prefix(self) -> str:
        """The part of the API key that is safe to print (``flk_<12 hex>``), never the secret."""
        if not self.api_key:
            return "(none)"
        parts = self.api_key.split("_")
        if len(parts) >= 3 and parts[0] == "flk":
            return f"{parts[0]}_{parts[1]}"
        return self.api_key[:4] + "…"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "client_id": _env_str(env, "CLIENT_ID"),
            "collector_url": _env_str(env, "LOG_COLLECTOR_URL"),
            "api_key": _env_str(env, "LOG_COLLECTOR_API_KEY"),
            "enabled": _env_bool(env, "ENABLE_CENTRALIZED_LOGGING", True),
            "environment": _env_str(env, "ENVIRONMENT") or "production",
            "pii_salt": _env_str(env, "LOG_PII_SALT"),
            "spool_dir": _env_str(env, "LOG_SPOOL_DIR"),
            "max_queue_size": _env_num(env, "LOG_SHIPPER_QUEUE_SIZE", 10_000, int),
            "batch_size": _env_num(env, "LOG_SHIPPER_BATCH_SIZE", 100, int),
            "flush_interval": _env_num(env, "LOG_SHIPPER_FLUSH_INTERVAL", 1.0),
            "read_timeout": _env_num(env, "LOG_SHIPPER_TIMEOUT", 10.0),
            "max_retries": _env_num(env, "LOG_SHIPPER_MAX_RETRIES", 5, int),
            "spool_max_bytes": int(_env_num(env, "LOG_SPOOL_MAX_MB", 100.0) * 1024 * 1024),
            "max_log_bytes": _env_num(env, "LOG_MAX_LOG_KB", 256, int) * 1024,
            "exit_timeout": _env_num(env, "LOG_SHIPPER_EXIT_TIMEOUT", 2.0),
        }
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown shipper setting(s): {', '.join(sorted(unknown))}")
        values.update(overrides)
        # The collector takes 1..500 logs per batch.
        values["batch_size"] = max(1, min(500, int(values["batch_size"])))
        values["max_queue_size"] = max(1, int(values["max_queue_size"]))
        return cls(**values)


_lock = threading.Lock()
_current: Config | None = None
# Used when LOG_PII_SALT is unset: hashes stay irreversible, but only correlate within a process.
_ephemeral_salt = secrets.token_hex(32)
_warned_salt = False


def get_config() -> Config:
    """The active configuration, read from the environment on first use."""
    global _current
    cfg = _current
    if cfg is None:
        with _lock:
            if _current is None:
                _current = Config.from_env()
            cfg = _current
    return cfg


def set_config(cfg: Config | None) -> None:
    global _current
    with _lock:
        _current = cfg


def pii_salt(cfg: Config | None = None) -> bytes:
    """The key for ``hash_pii``; a per-process random one when unset, with one warning once
    logs are shipped (with shipping off nothing leaves the process, and the no-op path stays
    at its one info line)."""
    global _warned_salt
    cfg = cfg or get_config()
    if cfg.pii_salt:
        return cfg.pii_salt.encode("utf-8")
    if not _warned_salt and cfg.configured:
        _warned_salt = True
        logger.warning(
            "shipper: LOG_PII_SALT is not set; PII hashes use a random per-process key and "
            "cannot be correlated across processes"
        )
    return _ephemeral_salt.encode("ascii")
