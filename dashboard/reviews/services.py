"""Writes of verdicts: record or change one, and forget those of logs that are gone.

``verdict_record`` writes the verdict and its ``VerdictEvent`` in one transaction, so
the history always holds every state the verdict had. Text is scrubbed with the
collector's scrubber (as every text we store) and bounded after scrubbing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from collector.models import Client, LogReceipt
from collector.scrubbing import scrub_text
from collector.selectors import log_get
from dashboard.reviews.models import (
    BETTER_ANSWER_MAX_CHARS,
    NOTE_MAX_CHARS,
    Verdict,
    VerdictEvent,
    VerdictKind,
)
from dashboard.reviews.readmodel import FACT_FIELDS, VerdictFacts, verdict_counts_apply
from dashboard.selectors.access import client_list_for_user
from flusso_site.errors import ApplicationError, NotFound, NotPermitted


class InvalidVerdict(ApplicationError):
    """The verdict's input is not valid (kind, text too long, a better answer where none
    belongs); nothing was stored."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, code="invalid_verdict", fields={field: [message]})


class VerdictLogNotFound(NotFound):
    """The client has no log with this log_id."""

    def __init__(self) -> None:
        super().__init__("This client has no such run.", code="log_not_found")


class VerdictNotYours(NotPermitted):
    """Only a verdict's author and the owner may change it."""

    def __init__(self) -> None:
        super().__init__(
            "Another user recorded this verdict: only they or the owner may change it.",
            code="verdict_not_yours",
        )


def _clean_text(value: str, *, limit: int, field: str, label: str) -> str:
    text = scrub_text((value or "").strip())
    if len(text) > limit:
        raise InvalidVerdict(f"The {label} is too long (at most {limit} characters).", field=field)
    return text


def verdict_may_change(*, verdict: Verdict, user: AbstractBaseUser) -> bool:
    """The author and the owner (staff) may change a verdict; nobody else."""
    return bool(user.is_staff) or (verdict.author_id is not None and verdict.author_id == user.pk)


def verdict_record(
    *,
    client: Client,
    log_id: uuid.UUID,
    user: AbstractBaseUser,
    kind: str,
    note: str = "",
    better_answer: str = "",
    now: dt.datetime | None = None,
) -> Verdict:
    """Record the user's verdict on the client's run, or change the current one.

    Raises InvalidVerdict for bad input, VerdictLogNotFound for a run the client does not
    have (or a client the user may not see), VerdictNotYours when another user's verdict
    stands; nothing is written then. Recording what is already stored writes nothing.
    """
    if kind not in VerdictKind.values:
        raise InvalidVerdict("Choose one of the four verdicts.", field="kind")
    note = _clean_text(note, limit=NOTE_MAX_CHARS, field="note", label="note")
    better_answer = _clean_text(
        better_answer, limit=BETTER_ANSWER_MAX_CHARS, field="better_answer", label="better answer"
    )
    if better_answer and kind != VerdictKind.INCORRECT:
        raise InvalidVerdict(
            "A better answer goes only with an incorrect verdict.", field="better_answer"
        )
    # The view has resolved the client for the user already; a service called from
    # elsewhere must not let a user judge another client's runs either.
    if not client_list_for_user(user=user).filter(pk=client.pk).exists():
        raise VerdictLogNotFound()
    log = log_get(client=client, log_id=log_id)
    if log is None:
        raise VerdictLogNotFound()
    now = now or timezone.now()
    # Two first verdicts at once: the loser of the unique constraint retries as a change.
    for attempt in range(2):
        try:
            with transaction.atomic():
                # The log's receipt, locked: retention deletes it in the transaction that
                # deletes the log, so a prune either waits for this verdict (and then
                # deletes it with its log) or has committed first (and the run is gone).
                # Without it a verdict recorded during a prune outlived its log.
                if (
                    not LogReceipt.objects.for_client(client)
                    .select_for_update()
                    .filter(log_id=log_id)
                    .exists()
                ):
                    raise VerdictLogNotFound()
                verdict = (
                    Verdict.objects.for_client(client)
                    .select_for_update()
                    .filter(log_id=log_id)
                    .first()
                )
                if verdict is None:
                    verdict = Verdict.objects.create(
                        client=client,
                        log_id=log_id,
                        kind=kind,
                        note=note,
                        better_answer=better_answer,
                        author=user,
                        created_at=now,
                        updated_at=now,
                        timestamp=log.timestamp,
                        environment=log.environment,
                        workflow_version=log.workflow_version,
                        status=log.status,
                        overall_confidence=log.overall_confidence,
                    )
                    counted = [(VerdictFacts.of(verdict), 1)]
                else:
                    if not verdict_may_change(verdict=verdict, user=user):
                        raise VerdictNotYours()
                    if (verdict.kind, verdict.note, verdict.better_answer) == (
                        kind,
                        note,
                        better_answer,
                    ):
                        return verdict
                    counted = []
                    if verdict.kind != kind:
                        counted = [(VerdictFacts.of(verdict), -1)]
                    verdict.kind, verdict.note, verdict.better_answer = kind, note, better_answer
                    if counted:
                        counted.append((VerdictFacts.of(verdict), 1))
                    verdict.updated_at = now
                    verdict.save(update_fields=["kind", "note", "better_answer", "updated_at"])
                verdict_counts_apply(client_id=client.pk, changes=counted)
                VerdictEvent.objects.create(
                    verdict=verdict,
                    actor=user,
                    at=now,
                    kind=kind,
                    note=note,
                    better_answer=better_answer,
                )
                return verdict
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def verdicts_delete_for_logs(*, client_id: int, log_ids: Iterable[uuid.UUID]) -> int:
    """Forget the verdicts (and their history) of logs retention deleted; how many."""
    ids = list(log_ids)
    if not ids:
        return 0
    return _verdicts_delete(
        client_id=client_id, verdicts=Verdict.objects.for_client(client_id).filter(log_id__in=ids)
    )


def verdicts_delete_for_span(
    *, client_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> int:
    """Forget the verdicts of logs in [start, end) of these clients: a dropped month,
    whose holders have all of that month expired (late logs of it stored elsewhere
    included, which the same prune deletes). How many."""
    ids = list(client_ids)
    if not ids:
        return 0
    return sum(
        _verdicts_delete(
            client_id=client_id,
            verdicts=Verdict.objects.for_client(client_id).filter(
                timestamp__gte=start, timestamp__lt=end
            ),
        )
        for client_id in sorted(ids)
    )


def _verdicts_delete(*, client_id: int, verdicts: QuerySet[Verdict]) -> int:
    """Delete these verdicts of one client and subtract them from its verdict counts, in
    one transaction. The rows are locked first, so a change of kind committing meanwhile
    is subtracted as it stands (verdicts are few: the lock holds a handful of rows)."""
    with transaction.atomic():
        gone = list(verdicts.select_for_update().order_by("pk").values_list("pk", *FACT_FIELDS))
        if not gone:
            return 0
        verdict_counts_apply(
            client_id=client_id,
            changes=[(VerdictFacts(*values[1:]), -1) for values in gone],
        )
        _, by_model = Verdict.objects.filter(pk__in=[values[0] for values in gone]).delete()
    return by_model.get(Verdict._meta.label, 0)
