"""The review queue's reads at a million logs (a script, not a test).

    .venv/bin/python bench/review_queue.py [--logs 1000000] [--database NAME] [--rounds 5]

Fills a PostgreSQL database as bench/dashboard.py does (20 clients over 90 days, the
largest, c00, holding 40 % of the logs; kept between runs, --refill to start over),
records verdicts on c00's newest 2,000 runs (``--verdicts``), then times
``review_queue`` for c00 over 24 h, 7 d, 30 d and 90 d, with and without an environment
filter, and prints the plan of each tier's query. Numbers are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))  # bench/dashboard.py imports "common"
sys.path.insert(0, str(ROOT))  # before it: "dashboard" is the app

from common import database_url  # noqa: E402

from bench.dashboard import fill  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--database", default="flusso_bench_review_queue")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--refill", action="store_true")
    # Runs of c00 judged (its newest), skipped by every tier's NOT EXISTS.
    parser.add_argument("--verdicts", type=int, default=2000)
    args = parser.parse_args()
    fill(args.database, args.logs, args.refill)

    os.environ["DATABASE_URL"] = database_url(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flusso_site.settings.test")
    # bench/dashboard.py put bench/ first on the path: "dashboard" must be the app again.
    sys.path[:] = [p for p in sys.path if Path(p).resolve() != ROOT / "bench"]
    if not hasattr(sys.modules.get("dashboard"), "__path__"):
        sys.modules.pop("dashboard", None)
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from collector.models import Client, WorkflowLog
    from dashboard.reviews import selectors
    from dashboard.reviews.models import Verdict, VerdictKind
    from dashboard.selectors import DashboardFilters, Window

    client = Client.objects.get(slug="c00")
    total = WorkflowLog.objects.count()
    if not Verdict.objects.for_client(client).exists():
        rows = WorkflowLog.objects.for_client(client).order_by("-timestamp")[: args.verdicts]
        Verdict.objects.bulk_create(
            Verdict(
                client=client,
                log_id=row.log_id,
                kind=VerdictKind.CORRECT,
                timestamp=row.timestamp,
                environment=row.environment,
                workflow_version=row.workflow_version,
                status=row.status,
                overall_confidence=row.overall_confidence,
            )
            for row in rows
        )
        with connection.cursor() as cursor:  # as autovacuum would, before the queue reads
            cursor.execute("ANALYZE reviews_verdict")
    print(f"{total:,} logs; c00 holds {WorkflowLog.objects.for_client(client).count():,}")
    now = timezone.now()
    for days in (1, 7, 30, 90):
        for environment in ("", "staging"):
            filters = DashboardFilters(
                window=Window(now - dt.timedelta(days=days), now), environment=environment
            )
            samples, queries = [], 0
            for seed in range(args.rounds):
                start = time.perf_counter()
                before = len(connection.queries)
                connection.force_debug_cursor = True
                items = selectors.review_queue(client=client, filters=filters, seed=seed)
                queries = len(connection.queries) - before
                connection.force_debug_cursor = False
                samples.append(time.perf_counter() - start)
            print(
                f"{days:>3} d {environment or 'all':>8}: {len(items):>2} runs, {queries} queries,"
                f" median {statistics.median(samples) * 1000:.0f} ms,"
                f" max {max(samples) * 1000:.0f} ms"
            )
    filters = DashboardFilters(window=Window(now - dt.timedelta(days=30), now))
    base = selectors._unreviewed(client=client, filters=filters)
    plans = {
        "issues (one status)": base.filter(status="FAILED").order_by("-timestamp", "-id")[:15],
        "low confidence": base.filter(status="SUCCESS")
        .annotate(sort_value=selectors.metric_sort_expression("overall_confidence"))
        .filter(sort_value__gte=0, sort_value__lt=selectors.LOW_CONFIDENCE)
        .order_by("sort_value", "id")[:15],
    }
    for name, queryset in plans.items():
        print(f"--- {name}")
        print(queryset.explain(analyze=True))


if __name__ == "__main__":
    main()
