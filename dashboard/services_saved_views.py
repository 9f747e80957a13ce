"""Writes of saved views: named log viewer filters, shared by a client's users."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from collector.models import Client
from collector.scrubbing import scrub_text
from dashboard.forms import LogFilterForm
from dashboard.models import SavedView
from flusso_site.errors import ApplicationError

# Query parameters a view never keeps: the page it was on is not a filter.
NOT_SAVED = frozenset({"cursor"})
# Views a client may hold: a menu, not an archive; bounds the menu every log page reads.
MAX_SAVED_VIEWS = 100
NAME_MAX_CHARS = SavedView._meta.get_field("name").max_length


class SavedViewInvalid(ApplicationError):
    pass


class SavedViewForbidden(ApplicationError):
    pass


def saved_view_query(filters: Mapping[str, str]) -> str:
    """The normalised query string of valid log viewer filters; SavedViewInvalid otherwise.

    Only the form's own fields, in its order, with empty ones left out; every value is
    scrubbed like any text we store (an e-mail address typed as a search is not kept), and
    validated again after that.
    """
    values = {
        name: scrub_text((filters.get(name) or "").strip())
        for name in LogFilterForm.base_fields
        if name not in NOT_SAVED
    }
    form = LogFilterForm(values)
    if not form.is_valid():
        raise SavedViewInvalid("These filters are not valid, so they cannot be saved.")
    return urlencode([(name, value) for name, value in values.items() if value])


def saved_view_create(
    *, client: Client, user: AbstractBaseUser, name: str, filters: Mapping[str, str]
) -> SavedView:
    """Save the filters under ``name`` for every user of the client."""
    name = scrub_text(" ".join(name.split()))
    if "\x00" in name:  # PostgreSQL text cannot hold it
        raise SavedViewInvalid("A view's name cannot contain a NUL character.")
    if not name:
        raise SavedViewInvalid("Give the view a name.")
    if len(name) > NAME_MAX_CHARS:
        raise SavedViewInvalid(f"A view's name is at most {NAME_MAX_CHARS} characters.")
    query = saved_view_query(filters)
    if len(query) > SavedView._meta.get_field("query").max_length:
        raise SavedViewInvalid("These filters are too long to save.")
    if SavedView.objects.for_client(client).count() >= MAX_SAVED_VIEWS:
        raise SavedViewInvalid(f"A client keeps at most {MAX_SAVED_VIEWS} views; delete one first.")
    try:
        with transaction.atomic():
            return SavedView.objects.create(client=client, name=name, query=query, created_by=user)
    except IntegrityError:
        raise SavedViewInvalid(
            f"A view named {name!r} exists already; choose another name."
        ) from None


def saved_view_deletable(*, saved_view: SavedView, user: AbstractBaseUser) -> bool:
    """Whether the user may delete the view: its author, or the owner (staff)."""
    return bool(user.is_staff or saved_view.created_by_id == user.pk)


def saved_view_delete(*, saved_view: SavedView, user: AbstractBaseUser) -> None:
    """Delete the view: its author or the owner (staff) only."""
    if not saved_view_deletable(saved_view=saved_view, user=user):
        raise SavedViewForbidden("Only the view's author or the owner can delete it.")
    saved_view.delete()
