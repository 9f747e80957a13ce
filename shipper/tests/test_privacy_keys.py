"""Keys (privacy/keys.py): values under secret keys are redacted, ordinary keys are kept."""

from __future__ import annotations

import pytest

from shipper import sanitize
from shipper.privacy import REDACTED, is_secret_key

from .corpus import ORDINARY_KEYS, SECRET_KEYS


def test_values_under_secret_looking_keys_are_redacted_at_any_depth() -> None:
    state = {"a": [{"b": {"OpenAI_API_Key": "x1", "db_password": "x2", "Authorization": "x3"}}]}
    inner = sanitize(state)["a"][0]["b"]
    assert inner == {"OpenAI_API_Key": REDACTED, "db_password": REDACTED, "Authorization": REDACTED}


def test_token_counts_are_metrics_not_secrets() -> None:
    assert sanitize({"max_tokens": 512, "prompt_tokens": 30}) == {
        "max_tokens": 512,
        "prompt_tokens": 30,
    }


@pytest.mark.parametrize(
    "key",
    [
        "pwd",
        "user_pin",
        "otp",
        "mfa_code",
        "sig",
        "ssn",
        "IBAN",
        "cvc",
        "jwt",
        "database_url",
        "REDIS_URI",
        "connection_string",
        "webhook_url",
        "encryption_key",
        "signing-key",
        "client_key",
    ],
)
def test_values_under_more_secret_or_sensitive_keys_are_redacted(key: str) -> None:
    assert sanitize({key: "zz-value-1234"}) == {key: REDACTED}


@pytest.mark.parametrize(
    "key", ["shipping_method", "pinned", "spinner", "sort_key", "design", "option", "url"]
)
def test_keys_that_merely_contain_those_letters_are_kept(key: str) -> None:
    assert sanitize({key: "kept"}) == {key: "kept"}


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_corpus_secret_keys_are_secret(key: str) -> None:
    assert is_secret_key(key)
    assert sanitize({"trace": {key: "zz-value-1234"}}) == {"trace": {key: REDACTED}}


@pytest.mark.parametrize("key", ORDINARY_KEYS)
def test_corpus_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)
    assert sanitize({"trace": {key: "kept"}}) == {"trace": {key: "kept"}}
