"""The sanitizer (privacy/sanitizer.py): the samples, JSON-safety, limits, cycles, hostile
objects, properties over random structures, and the corpus documents."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import string
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper import hash_pii, sanitize
from shipper.privacy import EMAIL_MASK, MAX_ITEMS, MAX_STRING

from .conftest import load_sample
from .corpus import DOCUMENT_CASES

SAMPLE_SECRETS = ("fd_live_9f8e7d6c5b4a", "sk-proj-abc123def456", "ord_live_5566")


SAMPLE_PII = (
    "jane.doe@example.com",
    "Jane",
    "Doe",
    "+1 415 555 0142",
    "415 555 0142",
    "m.rossi@example.org",
    "Marco Rossi",
    "legal@acme-law.example.com",
)


def test_sanitize_removes_every_sample_pii_and_secret() -> None:
    for name in ("state_success.json", "state_failed.json", "state_escalated.json"):
        text = json.dumps(sanitize(load_sample(name)))
        for needle in SAMPLE_SECRETS + SAMPLE_PII:
            assert needle not in text, (name, needle)


def test_sanitize_hashes_ticket_pii_fields() -> None:
    state = load_sample("state_success.json")
    ticket = sanitize(state)["ticket"]
    assert ticket["requester_email"] == hash_pii("jane.doe@example.com")
    assert ticket["requester_name"] == hash_pii("Jane Doe")
    assert ticket["requester_phone"] == hash_pii("+1 415 555 0142")
    assert ticket["subject"] == hash_pii(state["ticket"]["subject"])


def test_sanitize_keeps_what_is_not_personal() -> None:
    out = sanitize(load_sample("state_success.json"))
    assert out["react_iterations"][0]["observation"].startswith("Top match AUR-X2-CHR")
    assert out["ticket"]["created_at"] == "2026-11-20T09:14:03Z"
    assert out["confidence"] == {"overall": 0.82, "hallucination_risk": 0.12, "product": 0.91}


def test_long_strings_and_lists_are_truncated_with_a_marker() -> None:
    out = sanitize({"s": "x" * (MAX_STRING + 10), "l": list(range(MAX_ITEMS + 5))})
    assert out["s"].endswith("…[truncated 10 chars]")
    assert len(out["l"]) == MAX_ITEMS + 1
    assert out["l"][-1] == "[truncated 5 items]"


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    when: dt.datetime


class Opaque:
    def __str__(self) -> str:
        return "opaque object mailing me@x.org"


def test_non_json_values_become_json_safe() -> None:
    when = dt.datetime(2026, 11, 20, 9, 14, tzinfo=dt.timezone.utc)
    out = sanitize(
        {
            "when": when,
            "day": dt.date(2026, 11, 20),
            "money": decimal.Decimal("12.50"),
            "id": uuid.UUID("5b0f7c2e-8d6a-4e5f-9a43-2c1d0b9e7f61"),
            "tags": {"b", "a"},
            "tuple": (1, 2),
            "blob": b"secret-bytes",
            "nan": float("nan"),
            "colour": Colour.RED,
            "point": Point(1, when),
            "obj": Opaque(),
            3: "int key",
        }
    )
    assert out == {
        "when": "2026-11-20T09:14:00+00:00",
        "day": "2026-11-20",
        "money": 12.5,
        "id": "5b0f7c2e-8d6a-4e5f-9a43-2c1d0b9e7f61",
        "tags": ["a", "b"],
        "tuple": [1, 2],
        "blob": "<12 bytes>",
        "nan": None,
        "colour": "red",
        "point": {"x": 1, "when": "2026-11-20T09:14:00+00:00"},
        "obj": f"opaque object mailing {EMAIL_MASK}",
        "3": "int key",
    }
    json.dumps(out, allow_nan=False)


def test_cycles_are_cut() -> None:
    a: dict[str, Any] = {"name": "a"}
    a["self"] = a
    a["list"] = [a]
    out = sanitize(a)
    assert out == {"name": "a", "self": "[cycle]", "list": ["[cycle]"]}


def test_a_shared_but_acyclic_value_is_kept_everywhere() -> None:
    shared = {"k": 1}
    assert sanitize({"a": shared, "b": shared}) == {"a": {"k": 1}, "b": {"k": 1}}


def test_sanitize_never_raises_on_hostile_objects() -> None:
    class Evil:
        def __str__(self) -> str:
            raise RuntimeError("no")

    class EvilMap(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("no")

    assert sanitize({"e": Evil()}) == {"e": "<unprintable Evil>"}
    json.dumps(sanitize(EvilMap(a=1)))


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.datetimes()
    | st.decimals()
    | st.uuids()
    | st.binary(max_size=20)
)


structures = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10), children, max_size=5)
        | st.tuples(children, children)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(structures)
def test_property_output_always_serialises_as_strict_json(obj: Any) -> None:
    json.dumps(sanitize(obj), allow_nan=False)


secret_keys = st.sampled_from(
    ["password", "api_key", "OPENAI_API_KEY", "client_secret", "auth_token", "Authorization"]
)


secret_values = st.text(string.ascii_letters + string.digits, min_size=12, max_size=40).map(
    lambda s: "zq" + s  # a value that cannot occur by chance elsewhere in the output
)


@settings(max_examples=300, deadline=None)
@given(
    key=secret_keys,
    value=secret_values,
    depth=st.integers(min_value=0, max_value=6),
    prefix=st.text(max_size=15),
    noise=structures,
    notation=st.sampled_from(
        ["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{{'{k}': '{v}'}}", "?{k}={v}&"]
    ),
)
def test_property_no_secret_value_survives(
    key: str, value: str, depth: int, prefix: str, noise: Any, notation: str
) -> None:
    nested: Any = {key: value}
    for level in range(depth):
        nested = {f"level{level}": [nested, noise]}
    obj = {
        "state": nested,
        "log": f"{prefix} Authorization: Bearer {value} ",
        "tool": f"{prefix} key sk-{value}",
        "dump": f"{prefix} {notation.format(k=key, v=value)} ",
    }
    assert value not in json.dumps(sanitize(obj), ensure_ascii=False)


@pytest.mark.parametrize(("note", "document", "expected"), DOCUMENT_CASES)
def test_corpus_documents_are_sanitized_as_the_corpus_says(
    note: str, document: Any, expected: Any
) -> None:
    assert sanitize(document) == expected, note
