"""The detail page's trace: a document of any shape read into readable sections."""

from __future__ import annotations

import pytest

from dashboard.trace import Attachment, trace_from_document


def ticket(**fields):
    return {"trace": {"ticket": {"id": "T1", **fields}}}


def test_a_subject_in_clear_is_the_subject_and_leaves_the_field_list():
    trace = trace_from_document(ticket(subject="Tap leaking", priority="high"))
    assert trace.subject is not None and trace.subject.value == "Tap leaking"
    assert not trace.subject.is_hash
    assert [f.name for f in trace.ticket] == ["id", "priority"]


def test_a_hashed_subject_stays_a_hash():
    trace = trace_from_document(ticket(subject="sha256:" + "ab" * 32))
    assert trace.subject.is_hash
    assert trace.subject.value == "sha256:" + "ab" * 32


def test_tags_and_attachments_are_lists():
    trace = trace_from_document(
        ticket(
            tags=["faucet", "warranty", None, ""],
            attachment_count=2,
            attachments=[{"content_type": "image/jpeg", "size_bytes": 482113}, {"size_bytes": -3}],
        )
    )
    assert trace.tags == ["faucet", "warranty"]
    assert trace.attachments == [Attachment("image/jpeg", 482113), Attachment("unknown type", None)]
    assert trace.attachment_count == 2
    assert [f.name for f in trace.ticket] == ["id"]


def test_tags_sent_as_one_string_are_split_on_commas():
    assert trace_from_document(ticket(tags="faucet, warranty")).tags == ["faucet", "warranty"]


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": None, "tags": {"a": 1}, "attachments": "x", "attachment_count": "two"},
        {"tags": [["nested"]], "attachments": [1, "x"], "attachment_count": True},
        {},
    ],
)
def test_odd_shapes_show_nothing_rather_than_fail(fields):
    trace = trace_from_document(ticket(**fields))
    assert trace.subject is None
    assert trace.attachments == []
    assert trace.attachment_count is None
    assert all(isinstance(tag, str) for tag in trace.tags)


def test_a_listed_attachment_count_comes_from_the_list_when_not_sent():
    trace = trace_from_document(ticket(attachments=[{"content_type": "application/pdf"}]))
    assert trace.attachment_count == 1
