"""The demo data: two clients with ~90 days of logs, an owner, a client user and an API key.

For ``manage.py seed_demo`` and the tests only: no page, API or production service imports
this package (``dashboard/tests/test_commands.py`` checks that serving a page loads none of
it).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from collector.models import ApiKeyScope, Client, WorkflowLog
from collector.openapi import DEMO_CLIENT_SLUG
from collector.services import api_key_create, client_create, log_batch_ingest
from dashboard.demo.documents import demo_documents, demo_drift_documents
from dashboard.reviews.services import verdict_record
from dashboard.services import user_create

User = get_user_model()


@dataclass
class DemoSeedResult:
    seeded: bool
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (role, e-mail, password)
    client_slug: str = ""
    api_key: str = ""
    logs: int = 0
    verdicts: int = 0


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


# Verdicts the demo's client user has recorded on its runs of the last 30 days, so the
# dashboard's "Judged by your reviewers" figures and the calibration against verdicts show
# (both need at least 20 and 50 reviewed runs); the rest stays for the review queue.
DEMO_VERDICTS = 80
# (kind, weight) by status: mostly right, with the cases the figures call out.
_DEMO_JUDGEMENTS = {
    "SUCCESS": (("correct", 85), ("incorrect", 12), ("should_have_escalated", 3)),
    "ESCALATED": (("correct", 65), ("escalated_needlessly", 35)),
    "FAILED": (("incorrect", 60), ("should_have_escalated", 40)),
    "ERROR": (("incorrect", 100),),
}


def _demo_verdicts(*, rng: random.Random, client: Client, user: Any, now: dt.datetime) -> int:
    logs = list(
        WorkflowLog.objects.for_client(client)
        .filter(timestamp__gte=now - dt.timedelta(days=30), timestamp__lt=now)
        .order_by("id")
        .values_list("log_id", "status")
    )
    for log_id, status in rng.sample(logs, min(DEMO_VERDICTS, len(logs))):
        kinds, weights = zip(*_DEMO_JUDGEMENTS[status], strict=True)
        verdict_record(
            client=client,
            log_id=log_id,
            user=user,
            kind=rng.choices(kinds, weights)[0],
            now=now,
        )
    return min(DEMO_VERDICTS, len(logs))


def demo_seed(
    *, now: dt.datetime | None = None, seed: int = 7, scale: float = 1.0
) -> DemoSeedResult:
    """Two demo clients with ~90 days of logs, an owner, a client user and an API key.

    Only on an empty database (no clients, users or logs); otherwise nothing is written
    and ``seeded`` is False. Logs are built by the shipper's builder from generated
    workflow states and stored through the collector's ingestion service, as real ones are.
    """
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
        result.verdicts = _demo_verdicts(rng=rng, client=clients[0], user=member, now=now)
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
