"""PII (privacy/pii.py): the keyed hash, and the known values masked wherever they appear."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shipper import hash_pii, sanitize
from shipper.privacy import EMAIL_MASK

from .conftest import load_sample


def test_hash_pii_is_prefixed_hex_sha256_hmac_and_hides_the_value() -> None:
    hashed = hash_pii("jane.doe@example.com")
    assert hashed is not None
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", hashed)
    assert "jane" not in hashed


def test_hash_pii_is_stable_so_a_requester_correlates_across_logs() -> None:
    assert hash_pii("Jane Doe") == hash_pii("Jane Doe")


def test_hash_pii_depends_on_the_salt() -> None:
    assert hash_pii("Jane Doe", salt="one") != hash_pii("Jane Doe", salt="two")


def test_hash_pii_reads_the_salt_from_log_pii_salt(monkeypatch: Any) -> None:
    from shipper import config

    monkeypatch.setenv("LOG_PII_SALT", "from-env")
    config.set_config(None)
    assert hash_pii("x@y.com") == hash_pii("x@y.com", salt="from-env")


def test_hash_pii_folds_email_case_and_whitespace() -> None:
    assert hash_pii(" Jane.Doe@Example.COM ") == hash_pii("jane.doe@example.com")


def test_hash_pii_of_an_unprintable_object_is_none_not_an_exception() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert hash_pii(Unprintable()) is None


def test_hash_pii_keeps_none_and_does_not_rehash() -> None:
    assert hash_pii(None) is None
    once = hash_pii("a@b.co")
    assert hash_pii(once) == once


def test_sanitize_masks_the_requester_in_free_text_and_the_final_answer() -> None:
    out = sanitize(load_sample("state_success.json"))
    assert out["final_response"]["text"].startswith("Hi [name], thanks for the photo.")
    assert "[phone]" in out["ticket"]["description"]
    assert EMAIL_MASK in out["ticket"]["description"]


@pytest.mark.parametrize(
    "text",
    ["reach me on 4155550142", "(415) 555-0142", "415.555.0142.", "+14155550142", "1-415-555-0142"],
)
def test_the_requesters_own_phone_is_masked_in_any_format(text: str) -> None:
    state = {"ticket": {"requester_phone": "+1 415 555 0142"}, "note": text}
    out = json.dumps(sanitize(state))
    assert "0142" not in out, out


def test_the_requesters_name_is_masked_inside_user_names_and_handles() -> None:
    state = {
        "ticket": {"requester_name": "Jane Doe"},
        "note": "user jane_doe42 (JaneDoe, doe_j, @janedoe) logged in; Janet and Doeville stay",
    }
    out = sanitize(state)["note"]
    lowered = out.lower()
    assert "jane_" not in lowered and "janedoe" not in lowered and "doe_" not in lowered, out
    assert "Janet" in out and "Doeville" in out  # other words that merely start the same


def test_the_local_part_of_the_requesters_address_is_masked_on_its_own_too() -> None:
    state = {
        "ticket": {"requester_email": "m.rossi81@example.org"},
        "note": "login M.Rossi81 failed",
        "other": {"ticket": {"requester_email": "legal@acme-law.example.com"}},
        "reply": "forwarded to the legal team",
    }
    out = sanitize(state)
    assert "rossi" not in out["note"].lower(), out["note"]
    assert out["reply"] == "forwarded to the legal team"  # a plain word is not an identifier


def test_known_pii_under_pii_keys_is_hashed_not_masked() -> None:
    out = sanitize({"requester_email": "jane.doe@example.com", "note": "by jane.doe@example.com"})
    assert out["requester_email"].startswith("sha256:")
    assert out["note"] == f"by {EMAIL_MASK}"
