"""The verdict form on a run's page, its POST route, the review queue page and its "next
run" redirect: scoping, CSRF, PRG, bad input, and who may change what."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from collector.tests.factories import WorkflowLogFactory
from dashboard.reviews.models import Verdict, VerdictEvent
from dashboard.reviews.services import verdict_record


@pytest.fixture
def run(client_a):
    return WorkflowLogFactory(client=client_a, status="SUCCESS", overall_confidence=0.9)


def detail(run) -> str:
    return reverse("dashboard:log", args=[run.client.slug, run.log_id])


def verdict_url(run) -> str:
    return reverse("dashboard:log_verdict", args=[run.client.slug, run.log_id])


def queue_url(client) -> str:
    return reverse("dashboard:review", args=[client.slug])


def test_a_runs_page_offers_the_verdict_form_with_its_four_kinds(http_a, run):
    html = http_a.get(detail(run)).content.decode()
    assert 'data-testid="verdict-form"' in html
    assert f'action="{verdict_url(run)}"' in html
    for kind in ("correct", "incorrect", "should_have_escalated", "escalated_needlessly"):
        assert f'value="{kind}"' in html
    assert "Nobody has judged this run yet." in html
    # The page's behaviour comes from a static file (script-src 'self'), never inline.
    assert "js/review.js" in html
    assert "onclick" not in html and "onkeydown" not in html


def test_recording_redirects_back_to_the_run_which_then_shows_it_and_its_history(
    http_a, run, user_a
):
    response = http_a.post(verdict_url(run), {"kind": "incorrect", "note": "Wrong valve"})
    assert response.status_code == 302
    assert response["Location"] == detail(run)
    html = http_a.get(detail(run)).content.decode()
    assert re.search(r"Current verdict: <strong>incorrect</strong>, by user \d+ \(you\)", html)
    assert "Verdict recorded: incorrect." in html
    assert 'data-testid="verdict-history"' in html and "Wrong valve" in html
    assert Verdict.objects.get().author == user_a


def test_the_post_needs_the_csrf_token(user_a, run):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(user_a)
    assert http.post(verdict_url(run), {"kind": "correct"}).status_code == 403
    assert not Verdict.objects.exists()


def test_a_get_of_the_post_route_is_refused(http_a, run):
    assert http_a.get(verdict_url(run)).status_code == 405


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "Choose a verdict."),
        ({"kind": "perhaps"}, "Select a valid choice."),
        ({"kind": "correct", "better_answer": "Say X"}, "only with an incorrect verdict"),
        ({"kind": "correct", "note": "n" * 2001}, "at most 2000 characters"),
    ],
)
def test_bad_input_shows_the_form_errors_and_changes_nothing(http_a, run, data, message):
    verdict_record(client=run.client, log_id=run.log_id, user=run_user(http_a), kind="correct")
    response = http_a.post(verdict_url(run), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="verdict-errors"' in html and message in html
    assert Verdict.objects.get().kind == "correct"
    assert VerdictEvent.objects.count() == 1


def run_user(http: HttpClient):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=http.session["_auth_user_id"])


def test_a_colleagues_verdict_is_read_only_and_a_post_to_change_it_is_refused(
    http_a, http_colleague, run, colleague_a
):
    verdict_record(client=run.client, log_id=run.log_id, user=colleague_a, kind="correct")
    html = http_a.get(detail(run)).content.decode()
    assert 'data-testid="verdict-form"' not in html
    assert 'data-testid="verdict-read-only"' in html
    response = http_a.post(verdict_url(run), {"kind": "incorrect"})
    assert response.status_code == 403
    assert "only they or the owner may change it" in response.content.decode()
    assert Verdict.objects.get().kind == "correct"


def test_the_owner_may_change_a_client_users_verdict(http_owner, run, user_a):
    verdict_record(client=run.client, log_id=run.log_id, user=user_a, kind="correct")
    assert 'data-testid="verdict-form"' in http_owner.get(detail(run)).content.decode()
    assert http_owner.post(verdict_url(run), {"kind": "incorrect"}).status_code == 302
    assert Verdict.objects.get().kind == "incorrect"


def test_an_unknown_run_is_404_and_nothing_is_stored(http_a, client_a):
    url = reverse("dashboard:log_verdict", args=[client_a.slug, uuid.uuid4()])
    assert http_a.post(url, {"kind": "correct"}).status_code == 404
    assert not Verdict.objects.exists()


@pytest.mark.parametrize("name", ["dashboard:review", "dashboard:review_next"])
def test_another_clients_user_gets_404_on_the_queue_and_anonymous_goes_to_login(
    name, http_b, client_a
):
    url = reverse(name, args=[client_a.slug])
    assert http_b.get(url).status_code == 404
    response = HttpClient().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_another_clients_user_cannot_record_a_verdict(http_b, run):
    assert http_b.post(verdict_url(run), {"kind": "correct"}).status_code == 404
    assert not Verdict.objects.exists()


# The queue ------------------------------------------------------------------------------


def queue_rows(html: str) -> list[str]:
    return re.findall(r'data-testid="queue-row" data-log-id="([0-9a-f-]+)"', html)


def test_the_queue_lists_runs_without_a_verdict_failures_first(http_a, client_a, user_a):
    ok = WorkflowLogFactory(client=client_a, status="SUCCESS", overall_confidence=0.9)
    failed = WorkflowLogFactory(client=client_a, status="FAILED")
    judged = WorkflowLogFactory(client=client_a, status="ESCALATED")
    verdict_record(client=client_a, log_id=judged.log_id, user=user_a, kind="correct")
    response = http_a.get(queue_url(client_a), {"period": "7d"})
    assert response.status_code == 200
    rows = queue_rows(response.content.decode())
    assert rows[0] == str(failed.log_id)
    assert str(ok.log_id) in rows
    assert str(judged.log_id) not in rows


def test_the_queue_page_links_runs_with_its_state_and_the_same_link_shows_the_same_queue(
    http_a, client_a
):
    for _ in range(30):
        WorkflowLogFactory(client=client_a, status="SUCCESS", overall_confidence=0.9)
    first = http_a.get(queue_url(client_a)).content.decode()
    start = re.search(r'href="([^"]+)" data-testid="review-start"', first).group(1)
    state = parse_qs(urlparse(start.replace("&amp;", "&")).query)["queue"][0]
    again = http_a.get(queue_url(client_a) + "?" + state).content.decode()
    assert queue_rows(again) == queue_rows(first)
    assert len(queue_rows(first)) == 15  # the sample's size, of 30 successes


def test_invalid_queue_filters_are_listed_and_the_default_period_is_shown(http_a, client_a):
    response = http_a.get(queue_url(client_a), {"period": "custom", "start": "2026-13-01"})
    assert response.status_code == 200
    assert 'data-testid="filter-errors"' in response.content.decode()


def test_from_the_queue_recording_goes_to_the_next_unreviewed_run(http_a, client_a):
    failed = WorkflowLogFactory(client=client_a, status="FAILED")
    error = WorkflowLogFactory(client=client_a, status="ERROR")
    html = http_a.get(queue_url(client_a)).content.decode()
    start = re.search(r'href="([^"]+)" data-testid="review-start"', html).group(1)
    start = start.replace("&amp;", "&")
    opened = http_a.get(start).content.decode()
    assert "data-review-shortcuts" in opened and 'data-testid="review-next"' in opened
    first_id = urlparse(start).path.rstrip("/").rsplit("/", 1)[1]
    queue = re.search(r'name="queue" value="([^"]+)"', opened).group(1).replace("&amp;", "&")
    response = http_a.post(
        reverse("dashboard:log_verdict", args=[client_a.slug, first_id]),
        {"kind": "correct", "queue": queue},
    )
    assert response.status_code == 302
    landed = http_a.get(response["Location"])
    assert landed.status_code == 302
    target = urlparse(landed["Location"])
    expected = ({str(failed.log_id), str(error.log_id)} - {first_id}).pop()
    assert target.path == reverse("dashboard:log", args=[client_a.slug, expected])
    assert "queue" in parse_qs(target.query)


def test_next_at_the_end_of_the_queue_goes_back_to_the_queue_page(http_a, client_a):
    only = WorkflowLogFactory(client=client_a, status="FAILED")
    html = http_a.get(queue_url(client_a)).content.decode()
    start = re.search(r'href="([^"]+)" data-testid="review-start"', html).group(1)
    queue = parse_qs(urlparse(start.replace("&amp;", "&")).query)["queue"][0]
    response = http_a.get(
        reverse("dashboard:review_next", args=[client_a.slug]),
        {"queue": queue, "after": str(only.log_id)},
    )
    assert response.status_code == 302
    assert urlparse(response["Location"]).path == queue_url(client_a)


def test_a_hand_edited_next_link_is_not_an_error(http_a, client_a):
    url = reverse("dashboard:review_next", args=[client_a.slug])
    for query in ({"queue": "seed=-5&pos=99999", "after": "nope"}, {"queue": "x" * 5000}):
        assert http_a.get(url, query).status_code == 302


@pytest.mark.parametrize(
    "query",
    [
        {"at": "0", "period": "90d"},
        {"seed": "2147483647", "at": "32503680000"},
        {"period": "custom", "start": "1970-01-01", "end": "1970-01-02"},
        {"period": "custom", "start": "2999-12-30", "end": "2999-12-31"},
        {"environment": "x" * 65},
        {"pos": "-1", "seed": "1e9"},
    ],
)
def test_a_hand_edited_queue_state_is_never_an_error_page(http_a, client_a, query):
    """The queue's state travels in links: odd values fall back, never a 500."""
    run = WorkflowLogFactory(client=client_a, status="FAILED")
    state = urlencode(query)
    assert http_a.get(queue_url(client_a), query).status_code == 200
    assert http_a.get(detail(run), {"queue": state}).status_code == 200
    next_url = reverse("dashboard:review_next", args=[client_a.slug])
    assert http_a.get(next_url, {"queue": state, "after": str(run.log_id)}).status_code == 302
