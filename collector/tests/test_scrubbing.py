import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector import scrubbing
from collector.scrubbing import (
    MAX_DEPTH,
    REDACTED,
    DocumentTooDeep,
    is_secret_key,
    scrub_document,
    scrub_text,
)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "Authorization",
        "cookie",
        "sessionid",
        "client_secret",
        "access_token",
        "refreshToken",
        "freshdesk_api_key",
        "openai_api_key",
        "PRIVATE_KEY",
        "db_password",
        "Set-Cookie",
        "secret",
    ],
)
def test_secret_looking_keys_are_secret(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["ticket_id", "tokens_used", "author", "status", "keyword", "max_tokens", "passage"]
)
def test_ordinary_keys_are_not_secret(key):
    assert not is_secret_key(key)


def test_secret_values_are_redacted_at_any_depth():
    document = {
        "config": {
            "freshdesk_api_key": "fd_live_9f8e7d6c5b4a",
            "nested": [{"password": "hunter2"}],
        },
        "trace": {"react": {"iterations": [{"headers": {"Authorization": "Bearer abc.def"}}]}},
        "tokens_used": 1200,
    }
    scrubbed = scrub_document(document)
    text = json.dumps(scrubbed)
    for secret in ["fd_live_9f8e7d6c5b4a", "hunter2", "abc.def"]:
        assert secret not in text
    assert scrubbed["config"]["freshdesk_api_key"] == REDACTED
    assert scrubbed["tokens_used"] == 1200


def test_the_input_document_is_not_modified():
    document = {"password": "hunter2", "text": "mail me at a@b.example.com"}
    scrub_document(document)
    assert document == {"password": "hunter2", "text": "mail me at a@b.example.com"}


def test_emails_in_any_string_are_masked():
    scrubbed = scrub_document(
        {"trace": {"output": {"text": "Hi jane.doe@example.com, cc m.rossi+x@mail.example.org"}}}
    )
    text = scrubbed["trace"]["output"]["text"]
    assert "@" not in text and "[EMAIL]" in text


def test_credentials_inside_free_text_are_masked():
    message = (
        "order_lookup timed out (Authorization: Bearer ord_live_5566) key sk-proj-abc123def456"
    )
    scrubbed = scrub_text(message)
    assert "ord_live_5566" not in scrubbed and "sk-proj-abc123def456" not in scrubbed
    assert "timed out" in scrubbed


def test_our_own_api_keys_in_text_are_masked():
    key = "flk_0123456789ab_" + "A" * 43
    assert key not in scrub_text(f"configured with {key}")


def test_hostile_nesting_is_refused_not_crashed():
    document: dict = {}
    inner = document
    for _ in range(MAX_DEPTH + 5):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(DocumentTooDeep):
        scrub_document(document)


def test_null_under_secret_key_stays_null():
    assert scrub_document({"api_key": None}) == {"api_key": None}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_emails = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?@[a-z]{2,8}\.(com|org|example)", fullmatch=True)


@given(document=_json, email=_emails, secret=st.from_regex(r"[A-Za-z0-9]{12,20}", fullmatch=True))
def test_no_email_or_secret_value_survives(document, email, secret):
    hostile = {"data": document, "note": f"write to {email} now", "meta": {"token": secret}}
    scrubbed = scrub_document(hostile)
    text = json.dumps(scrubbed)
    assert email not in text
    assert scrubbed["meta"]["token"] == REDACTED
    assert scrubbed["note"] == "write to [EMAIL] now"


@pytest.mark.parametrize("pattern", [scrubbing._EMAIL, scrubbing._SECRET_IN_TEXT])
def test_text_patterns_have_only_bounded_repetitions(pattern):
    """An unbounded repetition let a long run of address characters before an '@' cost
    quadratic time: one hostile string could hold a worker for an hour. Bounded ones keep
    every scan linear in the text's length."""
    outside_classes = re.sub(r"\[(?:\\.|[^\]])*\]", "", pattern.pattern)
    assert not re.search(r"(?<!\\)[+*]|\{\d+,\}", outside_classes), outside_classes


def test_long_hostile_runs_are_still_masked_at_their_end():
    text = "x" * 5000 + "@example.com and " + "b." * 3000 + " tail"
    scrubbed = scrub_text(text)
    assert "@example.com" not in scrubbed and scrubbed.endswith(" tail")
    assert scrubbed.startswith("x" * 100)


@given(
    st.text(
        alphabet=st.sampled_from(
            "aAbBeErRsSkKtToOnNxXpPgGhHiIcCfFlL_-/+=.9 \u0130\u0131\u017f\u212a"
        )
    )
)
def test_no_secret_the_pattern_matches_gets_past_the_prefix_filter(text):
    from collector.scrubbing import _SECRET_IN_TEXT, _may_hold_secret

    if _SECRET_IN_TEXT.search(text):
        assert _may_hold_secret(text)


def test_a_document_with_nothing_to_scrub_comes_back_as_it_is():
    document = {"trace": {"note": "Replace the cartridge; see page 4.", "n": [1, 2]}}
    assert scrub_document(document) is document
