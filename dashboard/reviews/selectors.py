"""Reads of verdicts: one run's verdict and history, verdicts for a chunk of runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from collector.models import Client
from dashboard.reviews.models import Verdict, VerdictEvent

# What "looks like an e-mail address" for a display name: never shown or exported.
_EMAIL_LIKE = re.compile(r"@")


def user_label(user: AbstractBaseUser | None) -> str:
    """How a verdict names its author: the username unless it is an e-mail address
    (usernames are often the e-mail), else "user <id>"; "deleted user" when gone."""
    if user is None:
        return "deleted user"
    username = user.get_username()
    if username and not _EMAIL_LIKE.search(username):
        return username
    return f"user {user.pk}"


@dataclass(frozen=True)
class VerdictView:
    verdict: Verdict | None
    history: list[VerdictEvent]


def verdict_for_log(*, client: Client, log_id: uuid.UUID) -> VerdictView:
    """The run's current verdict (or None) and its history, newest first."""
    verdict = (
        Verdict.objects.for_client(client).filter(log_id=log_id).select_related("author").first()
    )
    history: list[VerdictEvent] = []
    if verdict is not None:
        history = list(verdict.events.select_related("actor").order_by("-at", "-id"))
    return VerdictView(verdict=verdict, history=history)


def verdicts_for_logs(
    *, client: Client | int, log_ids: Iterable[uuid.UUID], using: str = "default"
) -> dict[uuid.UUID, Verdict]:
    """The current verdicts of these runs by log_id, in one query (an export's chunk)."""
    ids = list(log_ids)
    if not ids:
        return {}
    rows = (
        Verdict.objects.using(using)
        .for_client(client)
        .filter(log_id__in=ids)
        .select_related("author")
    )
    return {verdict.log_id: verdict for verdict in rows}
