"""Writes of the dashboard app: accounts, memberships and the demo data."""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from collector.models import ApiKeyScope, Client, WorkflowLog
from collector.openapi import DEMO_CLIENT_SLUG
from collector.services import api_key_create, client_create, log_batch_ingest
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


# Demo ------------------------------------------------------------------------------------


@dataclass
class DemoSeedResult:
    seeded: bool
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role, e-mail, password)
    client_slug: str = ""
    api_key: str = ""
    logs: int = 0


DEMO_CLIENTS = [
    # (slug, name, runs per weekday, days since its last log)
    # The API docs' example log names this slug, so "Try it out" works with the demo key.
    (DEMO_CLIENT_SLUG, "Aurora Home Fixtures", 30, 0),
    # Silent for three days: long enough at its rate, whatever the weekday, for the
    # silence monitor to open on the demo data (docs/monitors.md).
    ("brightline", "Brightline Outdoor", 12, 3),
]
# The first client's success rate drifts in the last hours (a bad v1.3): a weekly busy
# stretch before "now" in the last six weeks is the baseline the monitors compare with.
DEMO_DRIFT = {"weeks": 6, "hours": 7, "runs_per_hour": 24, "drift_hours": 2}
DEMO_DAYS = 90
# The collector's batch limit; one transaction per batch.
DEMO_BATCH = 500


def database_is_empty() -> bool:
    return not (Client.objects.exists() or User.objects.exists() or WorkflowLog.objects.exists())


def demo_seed(
    *, now: dt.datetime | None = None, seed: int = 7, scale: float = 1.0
) -> DemoSeedResult:
    """Two demo clients with ~90 days of logs, an owner, a client user and an API key.

    Only on an empty database (no clients, users or logs); otherwise nothing is written
    and ``seeded`` is False. Logs are built by the shipper's builder from generated
    workflow states and stored through the collector's ingestion service, as real ones are.
    """
    from dashboard.demo import demo_documents, demo_drift_documents  # only for the demo

    if not database_is_empty():
        return DemoSeedResult(seeded=False)
    now = now or timezone.now()
    rng = random.Random(seed)
    result = DemoSeedResult(seeded=True)
    with transaction.atomic():
        clients = []
        for slug, name, per_day, silent_days in DEMO_CLIENTS:
            client = client_create(slug=slug, name=name)
            clients.append(client)
            documents = demo_documents(
                rng=rng,
                client_slug=slug,
                end=now - dt.timedelta(days=silent_days),
                days=DEMO_DAYS - silent_days,
                runs_per_weekday=max(1, round(per_day * scale)),
            )
            if len(clients) == 1:  # the first client is the one that drifts
                documents += demo_drift_documents(
                    rng=rng,
                    client_slug=slug,
                    end=now,
                    weeks=DEMO_DRIFT["weeks"],
                    hours=DEMO_DRIFT["hours"],
                    runs_per_hour=max(1, round(DEMO_DRIFT["runs_per_hour"] * scale)),
                    drift_hours=DEMO_DRIFT["drift_hours"],
                )
            for start in range(0, len(documents), DEMO_BATCH):
                batch = log_batch_ingest(
                    client=client, documents=documents[start : start + DEMO_BATCH]
                )
                result.logs += batch.created
        owner_password = secrets.token_urlsafe(9)
        client_password = secrets.token_urlsafe(9)
        owner = user_create(email="owner@flusso.localhost", password=owner_password, is_owner=True)
        member = user_create(
            email=f"support@{clients[0].slug}.localhost",
            password=client_password,
            client_slugs=[clients[0].slug],
        )
        # Both scopes, so the demo key also tries the read API (GET /api/v1/stats).
        _, raw_key = api_key_create(
            client=clients[0], label="demo", scopes=[ApiKeyScope.INGEST, ApiKeyScope.READ]
        )
    result.logins = [
        ("owner (all clients)", owner.email, owner_password),
        (f"client user ({clients[0].name})", member.email, client_password),
    ]
    result.client_slug = clients[0].slug
    result.api_key = raw_key
    return result
