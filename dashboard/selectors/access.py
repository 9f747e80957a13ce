"""Which clients a user may see: the one rule behind every client page."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from collector.models import Client


def client_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Client]:
    """Staff (the owner) see every client; others the active clients they are members of.

    A deactivated client's users lose its pages (404, as for any client they may not see)
    and its place in their chooser; the owner keeps seeing it, marked inactive.
    """
    if not user.is_authenticated or not user.is_active:
        return Client.objects.none()
    if user.is_staff:
        return Client.objects.all()
    return Client.objects.filter(memberships__user=user, is_active=True)


def client_get_for_user(*, user: AbstractBaseUser | AnonymousUser, slug: str) -> Client | None:
    """The client with this slug if the user may see it; None otherwise, whether it does
    not exist or is another's (``scoping.client_view`` answers 404 for both: a user must
    not learn which other clients exist)."""
    return client_list_for_user(user=user).filter(slug=slug).first()
