"""Writes of the dashboard app: accounts, memberships and preferences (the demo data is
``dashboard.demo``'s, for the ``seed_demo`` command only)."""

from __future__ import annotations

from collections.abc import Iterable

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from collector.models import Client
from dashboard.models import Membership, UserPreferences
from dashboard.selectors.preferences import time_zone_is_valid
from flusso_site.errors import ApplicationError

User = get_user_model()


class InvalidTimeZone(ApplicationError):
    pass


def user_preferences_update(*, user: AbstractUser, time_zone: str) -> UserPreferences:
    """Save the user's time zone ("" for the service's default); an unknown name changes
    nothing and raises InvalidTimeZone."""
    time_zone = time_zone.strip()
    if time_zone and not time_zone_is_valid(time_zone):
        raise InvalidTimeZone(f"Unknown time zone: {time_zone[:64]!r}.")
    preferences, _ = UserPreferences.objects.update_or_create(
        user=user, defaults={"time_zone": time_zone, "updated_at": timezone.now()}
    )
    return preferences


def membership_create(*, user: AbstractUser, client: Client) -> Membership:
    """Give the user access to the client; granting it twice keeps the first."""
    membership, _ = Membership.objects.get_or_create(user=user, client=client)
    return membership


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str,
    client_slugs: Iterable[str] = (),
    is_owner: bool = False,
) -> AbstractUser:
    """A login for the dashboards: an owner (staff, sees every client) or a client user.

    The e-mail is the login and is marked verified (the owner vouches for it), so password
    resets reach it. Raises ApplicationError for a bad or taken e-mail, a weak password or
    an unknown client.
    """
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(f"{email!r} is not a valid e-mail address.") from None
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(f"A user with the e-mail {email} already exists.", code="exists")
    slugs = list(dict.fromkeys(client_slugs))
    clients = list(Client.objects.filter(slug__in=slugs))
    missing = sorted(set(slugs) - {c.slug for c in clients})
    if missing:
        raise ApplicationError(f"No client with the slug {', '.join(missing)}.", code="not_found")
    user = User(username=email[:150], email=email, is_staff=is_owner, is_superuser=is_owner)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="weak_password") from None
    user.set_password(password)
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    for client in clients:
        membership_create(user=user, client=client)
    return user
