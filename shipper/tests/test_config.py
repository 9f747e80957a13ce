"""Configuration from the original environment names, endpoints derived from the URL."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shipper.config import Config, endpoints


@pytest.mark.parametrize(
    "url",
    [
        "http://h:8000/api/v1/logs",
        "http://h:8000/api/v1/logs/",
        "http://h:8000/api/v1/logs/batch",
        "http://h:8000",
        "http://h:8000/",
        "http://h:8000/api/v1",
        "http://h:8000/api/v1/",
        "http://h:8000/api/v1/health",
        " http://h:8000/api/v1/logs ",
    ],
)
def test_endpoints_are_derived_from_the_single_log_url_or_the_service_base(url: str) -> None:
    assert endpoints(url) == {
        "logs": "http://h:8000/api/v1/logs",
        "batch": "http://h:8000/api/v1/logs/batch",
        "base": "http://h:8000/api/v1",
        "health": "http://h:8000/api/v1/health",
        "whoami": "http://h:8000/api/v1/whoami",
    }


def test_a_prefixed_deployment_keeps_its_prefix() -> None:
    assert endpoints("https://x.io/flusso/api/v1/logs")["health"] == (
        "https://x.io/flusso/api/v1/health"
    )


def test_the_original_environment_names_are_read() -> None:
    cfg = Config.from_env(
        {
            "CLIENT_ID": "client_abc",
            "LOG_COLLECTOR_URL": "https://c.example/api/v1/logs",
            "LOG_COLLECTOR_API_KEY": "flk_0123456789ab_secret",
            "ENABLE_CENTRALIZED_LOGGING": "true",
            "ENVIRONMENT": "staging",
            "LOG_PII_SALT": "salt",
            "LOG_SPOOL_DIR": "/var/spool/flusso",
            "LOG_SHIPPER_BATCH_SIZE": "50",
            "LOG_SHIPPER_QUEUE_SIZE": "20",
            "LOG_SHIPPER_FLUSH_INTERVAL": "0.5",
            "LOG_SHIPPER_TIMEOUT": "4",
            "LOG_SHIPPER_MAX_RETRIES": "3",
            "LOG_SPOOL_MAX_MB": "1",
            "LOG_MAX_LOG_KB": "128",
            "LOG_SHIPPER_EXIT_TIMEOUT": "1",
        }
    )
    assert cfg.configured
    assert (cfg.client_id, cfg.environment, cfg.pii_salt, cfg.spool_dir) == (
        "client_abc",
        "staging",
        "salt",
        "/var/spool/flusso",
    )
    assert (cfg.batch_size, cfg.max_queue_size, cfg.flush_interval, cfg.read_timeout) == (
        50,
        20,
        0.5,
        4.0,
    )
    assert (cfg.max_retries, cfg.spool_max_bytes, cfg.max_log_bytes, cfg.exit_timeout) == (
        3,
        1024 * 1024,
        128 * 1024,
        1.0,
    )


def test_defaults_without_environment() -> None:
    cfg = Config.from_env({})
    assert not cfg.configured
    assert cfg.enabled and cfg.environment == "production"
    assert (cfg.batch_size, cfg.max_log_bytes) == (100, 256 * 1024)


@pytest.mark.parametrize("value", ["false", "0", "no", "off", "FALSE"])
def test_logging_can_be_switched_off(value: str) -> None:
    cfg = Config.from_env(
        {"LOG_COLLECTOR_URL": "http://h/api/v1/logs", "ENABLE_CENTRALIZED_LOGGING": value}
    )
    assert not cfg.configured


def test_bad_numbers_fall_back_to_defaults_with_a_warning(caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="shipper"):
        cfg = Config.from_env({"LOG_SHIPPER_BATCH_SIZE": "lots", "LOG_SHIPPER_TIMEOUT": "-1"})
    assert (cfg.batch_size, cfg.read_timeout) == (100, 10.0)
    assert "LOG_SHIPPER_BATCH_SIZE" in caplog.text and "LOG_SHIPPER_TIMEOUT" in caplog.text


def test_batch_size_is_clamped_to_what_the_collector_accepts() -> None:
    assert Config.from_env({"LOG_SHIPPER_BATCH_SIZE": "5000"}).batch_size == 500
    assert Config.from_env({"LOG_SHIPPER_BATCH_SIZE": "0"}).batch_size == 1


def test_the_key_is_never_shown_whole() -> None:
    cfg = Config(api_key="flk_0123456789ab_TheSecretPart")
    assert cfg.key_prefix == "flk_0123456789ab"
    assert "TheSecretPart" not in repr(cfg)
    assert Config(api_key="weird-key-format").key_prefix == "weir…"


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e999"])
def test_non_finite_numbers_fall_back_to_defaults(value: str, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="shipper"):
        cfg = Config.from_env(
            {"LOG_SHIPPER_FLUSH_INTERVAL": value, "LOG_SHIPPER_EXIT_TIMEOUT": value}
        )
    assert (cfg.flush_interval, cfg.exit_timeout) == (1.0, 2.0)
    assert "LOG_SHIPPER_EXIT_TIMEOUT" in caplog.text
