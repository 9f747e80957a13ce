"""Dashboard page times at a million logs, beside the database's floor (a script, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flusso_bench_pages \\
        .venv/bin/python bench/dashboard_pages.py [--logs 1000000]

PostgreSQL only: on first run it fills one client ("bench-big") with --logs synthetic logs
spread over 90 days (one INSERT ... SELECT generate_series, about a minute for 1M), then
VACUUM ANALYZE. Each page is fetched through Django's test client as a logged-in owner
(middleware, sessions, templates and charts included); the figure is the median of 5 after
a warm-up. The reference is one hand-written SQL aggregate over the same 30-day window: the
least any exact figure over that window can cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flusso_site.settings.test")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402

from collector.models import Client, WorkflowLog  # noqa: E402

SLUG = "bench-big"
RUNS = 5
PAGES = [
    "/dashboard/",
    f"/dashboard/{SLUG}/?period=24h",
    f"/dashboard/{SLUG}/?period=7d",
    f"/dashboard/{SLUG}/?period=30d",
    f"/dashboard/{SLUG}/?period=90d",
    f"/dashboard/{SLUG}/logs/",
    f"/dashboard/{SLUG}/logs/?status=FAILED&sort=confidence",
]

FILL_SQL = """
INSERT INTO collector_workflowlog (client_id, log_id, ticket_id, environment, status,
  workflow_version, timestamp, received_at, execution_time_seconds, react_iterations,
  overall_confidence, hallucination_risk, product_confidence, vision_matches, text_matches,
  error_type, error_node, error_message, document)
SELECT %(client)s, gen_random_uuid(), (40000 + g)::text,
  CASE WHEN g %% 5 = 0 THEN 'staging' ELSE 'production' END,
  CASE WHEN g %% 10 < 7 THEN 'SUCCESS' WHEN g %% 10 = 7 THEN 'FAILED'
       WHEN g %% 10 = 8 THEN 'ERROR' ELSE 'ESCALATED' END,
  'v1.' || (g %% 3),
  now() - (g * (interval '90 days' / %(logs)s)), now(),
  random() * 20, (random() * 6)::int, random(), random() * 0.5, random(),
  (random() * 5)::int, (random() * 10)::int,
  CASE WHEN g %% 10 IN (7, 8) THEN 'ToolTimeout' ELSE '' END,
  CASE WHEN g %% 10 IN (7, 8) THEN 'react_agent' ELSE '' END, '',
  jsonb_build_object('ticket_id', (40000 + g)::text, 'trace', jsonb_build_object('react',
    jsonb_build_array(jsonb_build_object('thought', repeat('think ', 100),
                                         'observation', repeat('obs ', 100)))))
FROM generate_series(1, %(logs)s) g
"""

REFERENCE_SQL = """
SELECT count(*), count(*) FILTER (WHERE status = 'SUCCESS'), avg(overall_confidence),
       avg(hallucination_risk), avg(react_iterations)
FROM collector_workflowlog
WHERE client_id = %s AND timestamp >= now() - interval '30 days'
"""


def median_ms(fn: object, runs: int = RUNS) -> float:
    fn()  # type: ignore[operator]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=1_000_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database: the numbers are about production.")
    call_command("migrate", verbosity=0)
    client, created = Client.objects.get_or_create(slug=SLUG, defaults={"name": "Bench Big"})
    if created or not WorkflowLog.objects.filter(client=client).exists():
        print(f"filling {args.logs:,} logs ...", flush=True)
        with connection.cursor() as cursor:
            cursor.execute(FILL_SQL, {"client": client.pk, "logs": args.logs})
            cursor.execute("VACUUM ANALYZE collector_workflowlog")
    total = WorkflowLog.objects.count()
    user_model = get_user_model()
    owner = user_model.objects.filter(username="bench-owner").first()
    if owner is None:
        owner = user_model.objects.create_user(
            username="bench-owner", email="bench-owner@flusso.localhost", is_staff=True
        )
    http = HttpClient()
    http.force_login(owner)

    def reference() -> None:
        with connection.cursor() as cursor:
            cursor.execute(REFERENCE_SQL, [client.pk])
            cursor.fetchall()

    print(f"{total:,} logs in the table; medians of {RUNS} after a warm-up")
    print(f"{'reference: one SQL aggregate over 30 days':48s} {median_ms(reference):8.1f} ms")
    for page in PAGES:

        def fetch(page: str = page) -> None:
            response = http.get(page)
            assert response.status_code == 200, (page, response.status_code)

        print(f"{page:48s} {median_ms(fetch):8.1f} ms")


if __name__ == "__main__":
    main()
