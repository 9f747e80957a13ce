"""Time series of logs for the monitors' tests: built by WorkflowLogFactory, stored the way
ingestion stores them (collector.services.logs_store: rows, receipts and rollups)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from django.core.management import call_command

from collector.models import Client, LogStatus
from collector.services import logs_store
from collector.tests.factories import WorkflowLogFactory

WEEK = dt.timedelta(days=7)
# A fixed Wednesday afternoon, in the past: every test evaluates around it.
T = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def exact_statuses(success_rate: float) -> Callable[[int], str]:
    """The i-th run's status so that every prefix holds the rate as exactly as whole runs
    can: no noise, so a test's numbers are known in advance. Failures are FAILED."""

    def status(index: int) -> str:
        before = int(index * success_rate)
        return LogStatus.SUCCESS if int((index + 1) * success_rate) > before else LogStatus.FAILED

    return status


def seed(
    client: Client,
    start: dt.datetime,
    end: dt.datetime,
    *,
    per_hour: int = 30,
    success_rate: float = 0.9,
    environment: str = "production",
    rng: random.Random | None = None,
    **fields: object,
) -> int:
    """Runs evenly spaced over [start, end), ``per_hour`` of them an hour; statuses exact
    (or, with ``rng``, each a coin with the rate's odds, and confidence, risk and execution
    time drawn around their usual values). Returns the number stored."""
    step = dt.timedelta(hours=1) / per_hour
    exact = exact_statuses(success_rate)
    logs, index, moment = [], 0, start
    while moment < end:
        noise: dict[str, object] = {}
        if rng is None:
            status = exact(index)
        else:
            status = LogStatus.SUCCESS if rng.random() < success_rate else LogStatus.FAILED
            noise = {
                "overall_confidence": min(1.0, max(0.0, rng.gauss(0.8, 0.1))),
                "hallucination_risk": min(1.0, max(0.0, rng.gauss(0.1, 0.03))),
                "execution_time_seconds": rng.lognormvariate(1.5, 0.4),
            }
        logs.append(
            WorkflowLogFactory.build(
                client=client,
                timestamp=moment,
                received_at=moment,
                status=status,
                environment=environment,
                **(noise | fields),
            )
        )
        index += 1
        moment += step
    for offset in range(0, len(logs), 1000):
        logs_store(client_id=client.pk, logs=logs[offset : offset + 1000])
    return len(logs)


def seed_poisson(
    client: Client,
    start: dt.datetime,
    end: dt.datetime,
    *,
    per_hour: float,
    rng: random.Random,
    environment: str = "production",
) -> list[dt.datetime]:
    """Runs arriving at random over [start, end), ``per_hour`` an hour on average (a
    Poisson process: exponential gaps), all successful. Returns their timestamps."""
    moments, moment = [], start + dt.timedelta(hours=rng.expovariate(per_hour))
    while moment < end:
        moments.append(moment)
        moment += dt.timedelta(hours=rng.expovariate(per_hour))
    logs = [
        WorkflowLogFactory.build(
            client=client,
            timestamp=moment,
            received_at=moment,
            status=LogStatus.SUCCESS,
            environment=environment,
        )
        for moment in moments
    ]
    for offset in range(0, len(logs), 1000):
        logs_store(client_id=client.pk, logs=logs[offset : offset + 1000])
    return moments


def seed_weeks(
    client: Client,
    around: dt.datetime,
    *,
    before: dt.timedelta,
    after: dt.timedelta,
    weeks: range = range(1, 7),
    **options: object,
) -> int:
    """The same stretch [around - before, around + after) in each of ``weeks`` weeks back
    (the baseline the monitors compare with)."""
    return sum(
        seed(client, around - week * WEEK - before, around - week * WEEK + after, **options)
        for week in weeks
    )


def run(now: dt.datetime) -> str:
    """``manage.py monitors_run --now`` as cron would call it; returns its output line."""
    from io import StringIO

    out = StringIO()
    call_command("monitors_run", "--now", now.isoformat(), stdout=out)
    return out.getvalue()
