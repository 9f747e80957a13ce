"""The msgspec fast path gives the serializer's answers, or leaves the document to it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from collector.serializers import LogDocumentSerializer
from collector.tests.factories import log_document
from collector.validation import _fast, log_document_validate

USED = (
    "ticket_id",
    "status",
    "environment",
    "workflow_version",
    "log_id",
    "client_id",
    "timestamp",
    "execution_time_seconds",
    "metrics",
    "error",
)


def _serializer(document: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return LogDocumentSerializer().run_validation(document)
    except ValidationError:
        return None


def _used(data: dict[str, Any]) -> dict[str, Any]:
    """The fields ingestion reads, as it reads them (``.get``: absent is None)."""
    found = {name: data.get(name) for name in USED}
    if found["metrics"] is not None:
        found["metrics"] = {k: v for k, v in dict(found["metrics"]).items()}
    if found["error"] is not None:
        found["error"] = dict(found["error"])
    return found


texts = st.one_of(
    st.sampled_from(
        ["", " ", "abc", " abc", "abc ", "a\nb", "abc\n", "\u00a0x", "x" * 130, "a\x00", "\ud800"]
    ),
    st.text(max_size=20),
)
numbers = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=3_000_000_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 0.5, 1.0, -0.0, 5.0, "0.5", "5"]),
)
timestamps = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2026-11-20T09:14:09Z",
            "2026-11-20T09:14:09.940000+00:00",
            "2026-11-20 09:14:09+02:00",
            "2026-11-20T09:14:09",
            "2026-11-20T09:14:09.1234567+01:00",
            "2026-02-30T00:00:00Z",
            "0001-01-01T00:30:00+05:00",
            "not a time",
            "",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.integers(),
)
field_values = {
    "ticket_id": st.one_of(texts, st.integers(), st.none()),
    "status": st.one_of(st.sampled_from(["SUCCESS", "ERROR", "success", "", None]), st.integers()),
    "environment": st.one_of(texts, st.none()),
    "workflow_version": st.one_of(texts, st.none()),
    "client_id": st.one_of(texts, st.none()),
    "schema_version": st.one_of(texts, st.none()),
    "log_id": st.one_of(
        st.none(),
        st.uuids().map(str),
        st.uuids().map(lambda u: u.hex),
        st.uuids().map(lambda u: str(u).upper()),
        st.uuids().map(lambda u: "{" + str(u) + "}"),
        st.sampled_from(["", "nope", 5]),
    ),
    "timestamp": timestamps,
    "execution_time_seconds": numbers,
    "metrics": st.one_of(
        st.none(),
        st.sampled_from([[], "x"]),
        st.dictionaries(
            st.sampled_from(
                [
                    "react_iterations",
                    "overall_confidence",
                    "hallucination_risk",
                    "vision_matches",
                    "text_matches",
                    "product_confidence",
                    "tokens",
                ]
            ),
            numbers,
        ),
    ),
    "error": st.one_of(
        st.none(),
        st.sampled_from(["boom", []]),
        st.dictionaries(
            st.sampled_from(["type", "message", "node", "extra"]),
            st.one_of(texts, st.integers(), st.none()),
        ),
    ),
    "trace": st.one_of(st.none(), st.just({}), st.just({"a": [1, "b"]}), st.just([1])),
}
documents = st.builds(
    lambda base, changes, dropped: {k: v for k, v in (base | changes).items() if k not in dropped},
    st.just(log_document()),
    st.fixed_dictionaries({}, optional=field_values),
    st.sets(st.sampled_from([*sorted(field_values), "ticket_id", "status"]), max_size=3),
)


@settings(max_examples=600, deadline=None)
@given(documents)
def test_the_fast_path_agrees_with_the_serializer_or_steps_aside(document):
    fast = _fast(document)
    slow = _serializer(document)
    if fast is not None:
        assert slow is not None, "the fast path accepted what the serializer refuses"
        assert _used(fast) == _used(slow)
    if slow is not None:
        assert _used(log_document_validate(document)) == _used(slow)
    else:
        with pytest.raises(ValidationError):
            log_document_validate(document)


def test_a_canonical_document_takes_the_fast_path():
    assert _fast(log_document()) is not None


@pytest.mark.parametrize(
    "changes",
    [
        {"ticket_id": " 123 "},  # DRF trims
        {"ticket_id": 12345},  # DRF turns numbers into strings
        {"metrics": {"react_iterations": 5.0}},  # DRF takes an integral float
        {"timestamp": "2026-11-20T09:14:09"},  # naive: the serializer's error
        {"status": "success"},
    ],
)
def test_documents_the_fast_path_does_not_take_are_left_to_the_serializer(changes):
    assert _fast(log_document(**changes)) is None


def test_errors_are_the_serializers():
    with pytest.raises(ValidationError) as info:
        log_document_validate(log_document(metrics={"overall_confidence": 2}))
    assert "overall_confidence" in info.value.detail["metrics"]


def test_timestamps_come_back_in_the_current_time_zone_as_drf_gives_them():
    data = _fast(log_document(timestamp="2026-11-20T11:14:09+02:00"))
    assert data is not None
    assert data["timestamp"] == dt.datetime(2026, 11, 20, 9, 14, 9, tzinfo=dt.UTC)
    assert data["timestamp"].utcoffset() == dt.timedelta(0)
