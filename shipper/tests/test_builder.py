"""build_workflow_log: any state in, one valid, bounded, privacy-safe log out."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shipper
from shipper import build_workflow_log, hash_pii, sanitize

from .conftest import load_sample

START = dt.datetime(2026, 11, 20, 9, 14, 5, 120000, tzinfo=dt.timezone.utc)
END = dt.datetime(2026, 11, 20, 9, 14, 9, 940000, tzinfo=dt.timezone.utc)
METRICS = (
    "react_iterations",
    "overall_confidence",
    "hallucination_risk",
    "product_confidence",
    "vision_matches",
    "text_matches",
)


def assert_valid_log(doc: dict[str, Any]) -> None:
    """The collector's document contract, as the shipper must meet it."""
    uuid.UUID(doc["log_id"])
    assert doc["schema_version"] == "1.0"
    assert isinstance(doc["client_id"], str) and doc["client_id"]
    assert isinstance(doc["environment"], str)
    assert isinstance(doc["ticket_id"], str) and doc["ticket_id"]
    assert doc["status"] in {"SUCCESS", "FAILED", "ERROR", "ESCALATED"}
    assert dt.datetime.fromisoformat(doc["timestamp"]).tzinfo is not None
    assert doc["execution_time_seconds"] >= 0
    assert set(doc["metrics"]) == set(METRICS)
    for name in ("overall_confidence", "hallucination_risk", "product_confidence"):
        value = doc["metrics"][name]
        assert value is None or 0.0 <= value <= 1.0
    for name in ("react_iterations", "vision_matches", "text_matches"):
        value = doc["metrics"][name]
        assert value is None or (isinstance(value, int) and value >= 0)
    if doc["error"] is not None:
        assert set(doc["error"]) == {"type", "message", "node"}
        assert all(isinstance(v, str) for v in doc["error"].values())
        assert len(doc["error"]["type"]) <= 128 and len(doc["error"]["node"]) <= 128
    assert isinstance(doc["trace"], dict)
    json.dumps(doc, allow_nan=False)


@pytest.fixture(autouse=True)
def client_config() -> None:
    shipper.configure(client_id="acme", environment="staging", pii_salt="test-salt")


def test_success_sample_becomes_the_documented_log() -> None:
    doc = build_workflow_log(load_sample("state_success.json"), START, END, workflow_version="v2")
    assert_valid_log(doc)
    assert doc["client_id"] == "acme"
    assert doc["environment"] == "staging"
    assert doc["workflow_version"] == "v2"
    assert doc["ticket_id"] == "48213"
    assert doc["status"] == "SUCCESS"
    assert doc["timestamp"] == "2026-11-20T09:14:09.940000+00:00"
    assert doc["execution_time_seconds"] == 4.82
    assert doc["metrics"] == {
        "react_iterations": 4,
        "overall_confidence": 0.82,
        "hallucination_risk": 0.12,
        "product_confidence": 0.91,
        "vision_matches": 2,
        "text_matches": 3,
    }
    assert doc["error"] is None
    trace = doc["trace"]
    assert set(trace) == {"ticket", "planning", "react", "retrieval", "output"}
    assert [it["iteration"] for it in trace["react"]["iterations"]] == [1, 2, 3, 4]
    assert trace["planning"]["strategy"] == "vision_first"
    assert trace["retrieval"]["text_results"][0]["doc_id"] == "KB-204"
    assert trace["output"]["action"] == "reply"
    assert trace["ticket"]["attachment_count"] == 1


def test_ticket_pii_is_hashed_and_nothing_personal_or_secret_is_left() -> None:
    doc = build_workflow_log(load_sample("state_success.json"), START, END)
    ticket = doc["trace"]["ticket"]
    assert ticket["requester_email"] == hash_pii("jane.doe@example.com", "test-salt")
    assert ticket["requester_name"] == hash_pii("Jane Doe", "test-salt")
    text = json.dumps(doc)
    for needle in ("jane.doe", "Jane", "415 555", "fd_live", "sk-proj", "Need a replacement"):
        assert needle not in text


def test_failed_sample_carries_a_scrubbed_error() -> None:
    doc = build_workflow_log(load_sample("state_failed.json"), START, END)
    assert_valid_log(doc)
    assert doc["status"] == "FAILED"
    assert doc["error"]["type"] == "ToolTimeout"
    assert doc["error"]["node"] == "react_agent"
    assert "ord_live_5566" not in doc["error"]["message"]
    assert doc["trace"]["output"] == {}


def test_escalated_sample() -> None:
    doc = build_workflow_log(load_sample("state_escalated.json"), START, END)
    assert_valid_log(doc)
    assert doc["status"] == "ESCALATED"
    assert "legal@acme-law" not in json.dumps(doc)


def test_each_build_gets_a_fresh_log_id() -> None:
    state = load_sample("state_success.json")
    assert (
        build_workflow_log(state, START, END)["log_id"]
        != build_workflow_log(state, START, END)["log_id"]
    )


def test_the_builder_does_not_modify_the_state() -> None:
    state = load_sample("state_success.json")
    before = copy.deepcopy(state)
    build_workflow_log(state, START, END)
    assert state == before


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (START, END),
        (START.timestamp(), END.timestamp()),
        (START.isoformat(), END.isoformat()),
        (START.replace(tzinfo=None), END.replace(tzinfo=None)),  # naive: taken as UTC
        (START.astimezone(dt.timezone(dt.timedelta(hours=2))), END),
    ],
)
def test_start_and_end_may_be_datetimes_epoch_seconds_or_iso(start: Any, end: Any) -> None:
    doc = build_workflow_log(load_sample("state_success.json"), start, end)
    assert doc["execution_time_seconds"] == 4.82
    assert dt.datetime.fromisoformat(doc["timestamp"]) == END


def test_end_before_start_gives_zero_duration_and_says_so() -> None:
    doc = build_workflow_log(load_sample("state_success.json"), END, START)
    assert doc["execution_time_seconds"] == 0.0
    assert "end_time is before start_time" in doc["trace"]["_shipper"]["warnings"]


def test_missing_start_falls_back_to_the_states_workflow_start_time() -> None:
    doc = build_workflow_log(load_sample("state_success.json"), None, END)
    assert doc["execution_time_seconds"] == 4.82


def test_empty_state_still_yields_a_valid_log_that_says_what_is_missing() -> None:
    doc = build_workflow_log({}, START, END)
    assert_valid_log(doc)
    assert doc["status"] == "ERROR"
    assert doc["ticket_id"] == "unknown"
    assert {"status missing", "ticket_id missing"} <= set(doc["trace"]["_shipper"]["warnings"])


class ExplodingState(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize(
    "state",
    [
        None,
        [],
        "not a state",
        42,
        {"ticket": "a string", "react_iterations": {"not": "a list"}, "retrieval": [1, 2]},
        {"confidence": {"overall": "high", "hallucination_risk": 7, "product": float("nan")}},
        {"status": "weird", "ticket_id": {"nested": True}, "error": "plain string error"},
        {"error": ValueError("an exception object, token=abc123secret")},
        {"react_iterations": [None, 1, "x", {"thought": object()}]},
        ExplodingState(),
    ],
)
def test_hostile_states_never_raise_and_yield_valid_logs(state: Any) -> None:
    doc = build_workflow_log(state, START, END)
    assert_valid_log(doc)
    assert "abc123secret" not in json.dumps(doc)


def test_unreadable_state_log_says_so() -> None:
    doc = build_workflow_log(ExplodingState(), START, END)
    assert doc["status"] == "ERROR"
    assert doc["error"]["type"] == "ShipperBuildError"


def test_out_of_range_confidences_become_null_with_a_warning() -> None:
    doc = build_workflow_log({"confidence": {"overall": 1.7}}, START, END)
    assert doc["metrics"]["overall_confidence"] is None
    assert "overall_confidence is outside [0, 1]" in doc["trace"]["_shipper"]["warnings"]


def test_a_cyclic_state_is_built() -> None:
    state = load_sample("state_success.json")
    state["plan"]["parent"] = state
    doc = build_workflow_log(state, START, END)
    assert_valid_log(doc)
    assert doc["trace"]["planning"]["parent"]["plan"] == "[cycle]"


def test_huge_state_is_trimmed_under_the_bound_and_flagged() -> None:
    shipper.configure(client_id="acme", pii_salt="test-salt", max_log_bytes=64 * 1024)
    state = load_sample("state_success.json")
    state["react_iterations"] = [
        {"iteration": i, "thought": "t" * 3000, "observation": "o" * 3000} for i in range(150)
    ]
    doc = build_workflow_log(state, START, END)
    size = len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= 64 * 1024
    assert doc["trace"]["_shipper"]["truncated"] is True
    assert doc["trace"]["_shipper"]["original_bytes"] > 64 * 1024
    assert doc["metrics"]["react_iterations"] == 150  # metrics are never trimmed
    assert_valid_log(doc)


def test_default_bound_is_256_kib() -> None:
    state = {"react_iterations": [{"observation": "o" * 3900} for _ in range(200)]}
    doc = build_workflow_log(state, START, END)
    assert len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()) <= 256 * 1024
    assert doc["trace"]["_shipper"]["truncated"] is True


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=25,
)
state_keys = st.sampled_from(
    [
        "ticket_id",
        "ticket",
        "plan",
        "react_iterations",
        "retrieval",
        "confidence",
        "final_response",
        "status",
        "error",
        "workflow_start_time",
        "product_identification",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    state=st.dictionaries(state_keys, json_like, max_size=11),
    start=st.none() | st.floats() | st.text(max_size=30) | st.datetimes(),
    end=st.none() | st.floats() | st.integers() | st.datetimes(timezones=st.just(dt.timezone.utc)),
)
def test_property_any_state_yields_a_valid_log(state: Any, start: Any, end: Any) -> None:
    assert_valid_log(build_workflow_log(state, start, end))


def test_other_names_for_the_same_parts_of_a_state_are_read() -> None:
    state = load_sample("state_success.json")
    renamed = {
        "planning": state.pop("plan"),
        "react": state.pop("react_iterations"),
        "output": state.pop("final_response"),
    }
    doc = build_workflow_log({**state, **renamed}, START, END)
    assert doc["metrics"]["react_iterations"] == 4
    assert doc["trace"]["planning"]["strategy"] == "vision_first"
    assert doc["trace"]["output"]["action"] == "reply"


@dataclasses.dataclass
class Ticket:
    id: int
    requester_email: str


@dataclasses.dataclass
class State:
    ticket: Ticket
    status: str


def test_a_dataclass_state_is_read_like_a_dict() -> None:
    doc = build_workflow_log(State(Ticket(7, "x@y.org"), "SUCCESS"), START, END)
    assert (doc["ticket_id"], doc["status"]) == ("7", "SUCCESS")
    assert doc["trace"]["ticket"]["requester_email"] == hash_pii("x@y.org", "test-salt")


def test_the_timestamp_is_in_utc_whatever_the_end_times_zone() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    doc = build_workflow_log({}, START, END.astimezone(paris))
    assert doc["timestamp"] == "2026-11-20T09:14:09.940000+00:00"


@pytest.mark.parametrize(
    "state",
    [
        {"ticket_id": "jane.doe@example.com", "status": "SUCCESS"},
        {"ticket": {"id": "call +1 415 555 0142"}, "status": "SUCCESS"},
    ],
)
def test_a_ticket_id_is_scrubbed_like_any_other_text(state: dict[str, Any]) -> None:
    doc = build_workflow_log(state, START, END)
    assert_valid_log(doc)
    text = json.dumps(doc)
    assert "jane.doe" not in text and "0142" not in text, text


def test_the_fallback_log_scrubs_the_ticket_id_too() -> None:
    class Hostile(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("no")

        def get(self, key: str, default: Any = None) -> Any:
            if key == "ticket_id":
                return "jane.doe@example.com"
            raise RuntimeError("no")

    doc = build_workflow_log(Hostile(ticket_id="jane.doe@example.com"), START, END)
    assert doc["error"]["type"] == "ShipperBuildError"
    assert "jane.doe" not in json.dumps(doc)


PHONE_FORMATS = (
    "+1 {a} {b} {c}",
    "({a}) {b}-{c}",
    "{a}{b}{c}",
    "{a}.{b}.{c}",
    "+1-{a}-{b}-{c}",
    "1{a}{b}{c}",
)
name_words = st.text("abcdefghijklmnoprstuvwy", min_size=2, max_size=8).map(lambda s: "Zq" + s)


@settings(max_examples=150, deadline=None)
@given(
    first=name_words,
    last=name_words,
    area=st.integers(200, 999),
    exchange=st.integers(200, 999),
    line=st.integers(0, 9999),
    stored=st.sampled_from(PHONE_FORMATS),
    written=st.sampled_from(PHONE_FORMATS),
    case=st.sampled_from([str.lower, str.upper, str.title, str]),
    end=st.sampled_from(["", ".", ",", ")", "!"]),
)
def test_property_nothing_of_the_requester_survives_anywhere_in_the_log(
    first: str,
    last: str,
    area: int,
    exchange: int,
    line: int,
    stored: str,
    written: str,
    case: Any,
    end: str,
) -> None:
    parts = {"a": str(area), "b": str(exchange), "c": f"{line:04d}"}
    email = f"{first}.{last}@example.com".lower()
    name = f"{first} {last}"
    phone_text = written.format(**parts)
    mention = f"{case(name)} ({case(email)}), {case(first)}, {case(last)}, {phone_text}{end}"
    state = load_sample("state_success.json")
    state["ticket"].update(
        requester_email=email,
        requester_name=name,
        requester_phone=stored.format(**parts),
        description=f"Hi, this is {mention}",
        tags=[case(first), email, phone_text],
        attachments=[{"name": f"{last}.jpg", "content_type": "image/jpeg", "size_bytes": 3}],
    )
    state["react_iterations"][0]["action_input"] = {"who": mention, case(email): 1}
    state["react_iterations"][1]["observation"] = f"found {mention}"
    state["final_response"]["text"] = f"Dear {case(first)}, we called {phone_text}{end}"
    state["error"] = {"type": "X", "message": f"failed for {mention}", "node": "n"}
    doc = build_workflow_log(state, START, END)
    # Fixed dates whose digits could pass for a phone number's tail.
    doc.pop("timestamp")
    doc["trace"]["ticket"].pop("created_at")
    dumped = json.dumps(doc, ensure_ascii=False)
    for word in (first, last):
        assert word.lower() not in dumped.lower()
    assert email.split("@")[0] not in dumped.lower()
    digits = f"{area}{exchange}{line:04d}"
    assert not re.search(r"[\s().-]*".join(digits[-7:]), dumped), dumped


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_an_unprintable_workflow_version_still_yields_a_valid_log() -> None:
    doc = build_workflow_log(load_sample("state_success.json"), START, END, Unprintable())  # type: ignore[arg-type]
    assert_valid_log(doc)
    assert doc["workflow_version"] == "v1.0"


def test_the_workflow_version_is_scrubbed_like_any_text() -> None:
    doc = build_workflow_log({}, START, END, workflow_version="v2 jane.doe@example.com")
    assert "jane.doe" not in json.dumps(doc)


def test_the_requester_is_masked_even_in_a_state_too_big_to_read_whole() -> None:
    """The known-PII scan has a node budget: the ticket must be read first, not last."""
    state = load_sample("state_success.json")
    state["react_iterations"] = [
        {
            "iteration": i,
            "action_input": {f"k{j}": [1, 2, 3] for j in range(30)},
            "observation": "spoke to Jane on 415 555 0142",
        }
        for i in range(100)
    ]
    text = json.dumps(build_workflow_log(state, START, END))
    assert "jane" not in text.lower()
    assert "0142" not in text


def test_sanitize_reads_a_big_structures_pii_fields_before_its_bulk() -> None:
    state = {
        "ticket": {"requester_name": "Jane Doe"},
        "bulk": [{f"k{j}": [1, 2, 3] for j in range(60)} for _ in range(200)],
        "note": "Jane called",
    }
    assert sanitize(state)["note"] == "[name] called"
