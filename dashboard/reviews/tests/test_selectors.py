"""Reads of verdicts: one run's verdict and history, a chunk's verdicts in one query, and
how an author is named."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collector.tests.factories import WorkflowLogFactory
from dashboard.reviews.selectors import user_label, verdict_for_log, verdicts_for_logs
from dashboard.reviews.services import verdict_record
from dashboard.reviews.tests.factories import VerdictFactory
from dashboard.tests.factories import UserFactory


def test_a_run_without_a_verdict_has_none_and_no_history(client_a):
    log = WorkflowLogFactory(client=client_a)
    found = verdict_for_log(client=client_a, log_id=log.log_id)
    assert found.verdict is None and found.history == []


def test_a_runs_history_is_newest_first(client_a, user_a, owner):
    log = WorkflowLogFactory(client=client_a)
    verdict_record(client=client_a, log_id=log.log_id, user=user_a, kind="correct")
    verdict_record(client=client_a, log_id=log.log_id, user=owner, kind="incorrect")
    found = verdict_for_log(client=client_a, log_id=log.log_id)
    assert found.verdict.kind == "incorrect"
    assert [(e.kind, e.actor_id) for e in found.history] == [
        ("incorrect", owner.pk),
        ("correct", user_a.pk),
    ]


def test_another_clients_verdict_on_the_same_log_id_is_not_found(client_a, client_b):
    theirs = VerdictFactory(client=client_b)
    assert verdict_for_log(client=client_a, log_id=theirs.log_id).verdict is None
    assert verdicts_for_logs(client=client_a, log_ids=[theirs.log_id]) == {}


@pytest.mark.django_db
def test_a_chunks_verdicts_come_in_one_query_with_their_authors(client_a):
    verdicts = [VerdictFactory(client=client_a) for _ in range(3)]
    unjudged = WorkflowLogFactory(client=client_a)
    with CaptureQueriesContext(connection) as queries:
        found = verdicts_for_logs(
            client=client_a, log_ids=[v.log_id for v in verdicts] + [unjudged.log_id]
        )
        labels = [user_label(v.author) for v in found.values()]
    assert len(queries) == 1
    assert set(found) == {v.log_id for v in verdicts}
    assert len(labels) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "username, expected",
    [("ann", "ann"), ("ann@acme.example", "user {pk}"), ("", "user {pk}")],
)
def test_an_author_is_named_by_a_username_that_is_not_an_email_address(username, expected):
    user = UserFactory(email="someone@example.com", username=username or "placeholder")
    if not username:
        user.username = ""
    assert user_label(user) == expected.format(pk=user.pk)


def test_a_deleted_author_is_named_so():
    assert user_label(None) == "deleted user"
