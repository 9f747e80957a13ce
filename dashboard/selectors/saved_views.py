"""Reads of saved views: a client's list, and one of them."""

from __future__ import annotations

from django.db.models import QuerySet

from collector.models import Client
from dashboard.models import SavedView


def saved_view_list(*, client: Client) -> QuerySet[SavedView]:
    """The client's saved views by name, with their authors."""
    return SavedView.objects.for_client(client).select_related("created_by")


def saved_view_get(*, client: Client, view_id: int) -> SavedView | None:
    """One of the client's saved views; None for another client's (or none)."""
    return SavedView.objects.for_client(client).filter(pk=view_id).first()
