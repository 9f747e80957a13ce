"""Saved views: named log viewer filters, shared by a client's users; service and pages."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.test import Client as HttpClient
from django.urls import reverse

from dashboard.models import SavedView
from dashboard.selectors.saved_views import saved_view_get, saved_view_list
from dashboard.services_saved_views import (
    SavedViewForbidden,
    SavedViewInvalid,
    saved_view_create,
    saved_view_delete,
    saved_view_query,
)
from dashboard.tests.factories import MembershipFactory, SavedViewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(client_a):
    return MembershipFactory(client=client_a, user__email="cal@acme.example").user


def _create(client, user, name="Failures", query="status=FAILED"):
    return saved_view_create(client=client, user=user, name=name, filters=QueryDict(query))


# The service ----------------------------------------------------------------------------


def test_query_is_normalised_through_the_form():
    query = "sort=-confidence&cursor=abc&junk=1&status=FAILED&q=+faucet+&environment="
    # The form's order, empty values and unknown parameters dropped, the page cursor too.
    assert saved_view_query(QueryDict(query)) == "q=faucet&status=FAILED&sort=-confidence"


@pytest.mark.parametrize(
    "query",
    ["status=NOPE", "confidence_min=2", "start=2026-13-01", "sort=ticket", "q=" + "x" * 201],
)
def test_invalid_filters_are_refused(client_a, user_a, query):
    with pytest.raises(SavedViewInvalid):
        _create(client_a, user_a, query=query)
    assert not SavedView.objects.exists()


def test_search_words_and_name_are_scrubbed(client_a, user_a):
    view = _create(client_a, user_a, name="mails of bob@example.com", query="q=bob%40example.com")
    assert view.name == "mails of [email]"
    assert view.query == "q=%5Bemail%5D"
    assert "example.com" not in view.query


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "a\x00b"])
def test_a_name_is_required_and_bounded(client_a, user_a, name):
    with pytest.raises(SavedViewInvalid):
        _create(client_a, user_a, name=name)


def test_names_are_unique_within_a_client_only(client_a, client_b, user_a, colleague, owner):
    _create(client_a, user_a)
    with pytest.raises(SavedViewInvalid, match="exists already"):
        _create(client_a, colleague)
    assert _create(client_b, owner).client == client_b


def test_views_are_shared_with_the_clients_users_only(client_a, client_b, user_a, owner):
    mine = _create(client_a, user_a)
    theirs = _create(client_b, owner, name="Other")
    assert list(saved_view_list(client=client_a)) == [mine]
    assert saved_view_get(client=client_a, view_id=mine.pk) == mine
    assert saved_view_get(client=client_a, view_id=theirs.pk) is None


def test_the_author_and_the_owner_may_delete_others_may_not(client_a, user_a, colleague, owner):
    first = _create(client_a, user_a, name="one")
    second = _create(client_a, user_a, name="two")
    with pytest.raises(SavedViewForbidden):
        saved_view_delete(saved_view=first, user=colleague)
    saved_view_delete(saved_view=first, user=user_a)
    saved_view_delete(saved_view=second, user=owner)
    assert not SavedView.objects.exists()


# The pages ------------------------------------------------------------------------------


def _logs(http, client, query=""):
    return http.get(reverse("dashboard:logs", args=[client.slug]) + ("?" + query if query else ""))


def test_saving_from_the_log_viewer_and_reopening(http_a, client_a, user_a, colleague):
    page = _logs(http_a, client_a, "status=FAILED&q=faucet&cursor=abc")
    assert page.context["save_query"] == "q=faucet&status=FAILED"
    response = http_a.post(
        reverse("dashboard:saved_view_create", args=[client_a.slug]),
        {"name": "Failed faucets", "query": page.context["save_query"]},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/logs/?q=faucet&status=FAILED")
    view = SavedView.objects.get()
    assert (view.client, view.created_by, view.name) == (client_a, user_a, "Failed faucets")
    # A colleague sees it in the menu, marked current when its filters are shown.
    other = HttpClient()
    other.force_login(colleague)
    body = _logs(other, client_a, "q=faucet&status=FAILED").content.decode()
    assert "Failed faucets" in body
    assert 'aria-current="true"' in body
    # ... but may not delete it: no button.
    assert "saved-view-delete" not in body
    assert "saved-view-delete" in _logs(http_a, client_a).content.decode()


def test_saving_invalid_filters_says_why_and_stores_nothing(http_a, client_a):
    response = http_a.post(
        reverse("dashboard:saved_view_create", args=[client_a.slug]),
        {"name": "bad", "query": "confidence_min=7"},
        follow=True,
    )
    # Back on the log viewer with those filters, which it refuses too (400), saying why.
    assert response.status_code == 400
    assert "cannot be saved" in response.content.decode()
    assert not SavedView.objects.exists()


def test_deleting_from_the_page(http_a, client_a, user_a):
    view = _create(client_a, user_a)
    response = http_a.post(
        reverse("dashboard:saved_view_delete", args=[client_a.slug, view.pk]), follow=True
    )
    assert response.status_code == 200
    assert "Deleted the view" in response.content.decode()
    assert not SavedView.objects.exists()


def test_a_colleague_cannot_delete_and_is_told(client_a, user_a, colleague):
    view = _create(client_a, user_a)
    http = HttpClient()
    http.force_login(colleague)
    response = http.post(
        reverse("dashboard:saved_view_delete", args=[client_a.slug, view.pk]), follow=True
    )
    assert "author or the owner can delete it" in response.content.decode()
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_another_clients_view_is_a_404_and_not_listed(http_a, client_a, client_b):
    theirs = SavedViewFactory(client=client_b, name="Globex secret")
    assert "Globex secret" not in _logs(http_a, client_a).content.decode()
    for slug in (client_a.slug, client_b.slug):
        url = reverse("dashboard:saved_view_delete", args=[slug, theirs.pk])
        assert http_a.post(url).status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()


def test_a_saved_views_odd_post_is_refused_never_an_error(http_a, client_a):
    url = reverse("dashboard:saved_view_create", args=[client_a.slug])
    for data in (
        {"name": "n\x00ul", "query": "status=FAILED"},
        {"name": "nul in query", "query": "q=a%00b"},
        {"name": "long", "query": "q=" + "x" * 10_000},
        {},
    ):
        response = http_a.post(url, data)
        assert response.status_code == 302, data
    assert not SavedView.objects.exists()


def test_saving_is_post_only(http_a, client_a):
    assert (
        http_a.get(reverse("dashboard:saved_view_create", args=[client_a.slug])).status_code == 405
    )


def test_the_list_never_shows_an_authors_e_mail_address(http_a, client_a, owner, colleague):
    """Every user of the client sees the list: authors are named as verdicts' are (the
    page shows only the reader's own address, in its top bar)."""
    _create(client_a, owner, name="Owner's view")
    _create(client_a, colleague, name="Cal's view")
    page = _logs(http_a, client_a).content.decode()
    assert "owner@flusso.example" not in page and "cal@acme.example" not in page
    assert f"by user {owner.pk}" in page and f"by user {colleague.pk}" in page
