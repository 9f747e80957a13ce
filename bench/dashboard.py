"""Dashboard page times at 10 thousand and at 1 million logs, side by side (a script, not a test).

    .venv/bin/python bench/dashboard.py [--small 10000] [--large 1000000] [--rounds 30]
                                        [--refill] [--fill-only]

Fills two PostgreSQL databases (flusso_bench_pages_<n>; kept between runs, --refill to
start over; --fill-only fills them and stops, so a slow fill can run before a quiet
measuring run) with 20 clients over 90 days, the largest holding 40 % of the logs, built by
SQL and then counted into the read model by ``manage.py rebuild_rollups``. Serves each
with gunicorn (the repository's gunicorn.conf.py, 2 workers) and fetches every page over
HTTP as the logged-in owner, the two servers interleaved request by request so both see
the same machine. Prints p50/p95 per page and size, the growth ratio (1M/10k), and the
time and the worker's memory growth of a 100,000-row CSV export from the large one.
Numbers are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import threading
import time
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    database_create,
    database_url,
    gunicorn,
    machine,
    manage,
    summary,
)

CLIENTS = 20
LARGEST_SHARE = 0.40
DAYS = 90
BIG = "c00"
OWNER = ("bench-owner@flusso.localhost", "bench-owner-password-1")

FILL_SQL = """
INSERT INTO collector_workflowlog (client_id, log_id, ticket_id, environment, status,
  workflow_version, timestamp, received_at, execution_time_seconds, react_iterations,
  overall_confidence, hallucination_risk, product_confidence, vision_matches, text_matches,
  error_type, error_node, error_message, document)
SELECT %(client)s, gen_random_uuid(), (100000 + g)::text,
  CASE WHEN r_env < 0.8 THEN 'production' ELSE 'staging' END,
  status,
  CASE WHEN age > 60 THEN 'v1.0' WHEN age > 20 THEN 'v1.1' ELSE 'v2.0' END,
  ts, ts,
  exp(1.3 + 0.5 * sqrt(-2 * ln(greatest(r1, 1e-9))) * cos(2 * pi() * r2)),
  (1 + r3 * 8)::int,
  CASE WHEN status = 'ERROR' THEN NULL ELSE 0.35 + 0.65 * r4 END,
  CASE WHEN status = 'ERROR' THEN NULL ELSE 0.5 * r5 END,
  r4, (r5 * 5)::int, (r3 * 10)::int,
  CASE WHEN status IN ('FAILED', 'ERROR') THEN
    (ARRAY['ToolTimeout', 'RateLimitError', 'RetrievalEmpty', 'ParseError'])[1 + (g %% 4)]
    ELSE '' END,
  CASE WHEN status IN ('FAILED', 'ERROR') THEN
    (ARRAY['react_agent', 'planner', 'retrieval'])[1 + (g %% 3)] ELSE '' END,
  '',
  jsonb_build_object('ticket_id', (100000 + g)::text, 'status', status,
    'trace', jsonb_build_object('react', jsonb_build_array(
      jsonb_build_object('thought', repeat('Check the part number and the manual. ', 12),
                         'observation', repeat('Found matching manual pages. ', 12)))))
FROM (
  SELECT g, now() - random() * interval '90 days' AS ts, random() AS r_env,
    random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
    CASE WHEN s < 0.70 THEN 'SUCCESS' WHEN s < 0.82 THEN 'FAILED'
         WHEN s < 0.90 THEN 'ERROR' ELSE 'ESCALATED' END AS status
  FROM (SELECT g, random() AS s FROM generate_series(1, %(logs)s) g) numbered
) raw_rows
CROSS JOIN LATERAL (SELECT extract(epoch FROM now() - ts) / 86400 AS age) aged
"""


def fill(database: str, logs: int, refill: bool) -> None:
    created = database_create(database, fresh=refill)
    manage(database, "migrate", "--no-input", "-v", "0")
    shares = [LARGEST_SHARE] + [(1 - LARGEST_SHARE) / (CLIENTS - 1)] * (CLIENTS - 1)
    with psycopg.connect(database_url(database), autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM collector_workflowlog").fetchone()[0]
        if count == sum(round(logs * share) for share in shares) and not created:
            return
        print(f"filling {database} with {logs:,} logs ...", flush=True)
        conn.execute("TRUNCATE collector_client, auth_user CASCADE")
        conn.execute("SELECT setseed(0.42)")
        for index, share in enumerate(shares):
            client_id = conn.execute(
                "INSERT INTO collector_client (name, slug, is_active, created_at) "
                "VALUES (%s, %s, true, now()) RETURNING id",
                [f"Client {index:02d}", f"c{index:02d}"],
            ).fetchone()[0]
            conn.execute(FILL_SQL, {"client": client_id, "logs": round(logs * share)})
        conn.execute(
            "INSERT INTO collector_logreceipt (client_id, log_id, timestamp) "
            "SELECT client_id, log_id, timestamp FROM collector_workflowlog"
        )
    manage(database, "rebuild_rollups", "-v", "0")
    with psycopg.connect(database_url(database), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    manage(
        database,
        "create_user",
        OWNER[0],
        "--owner",
        "--password",
        OWNER[1],
    )


def login(url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{url}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "no login form"
    response = session.post(
        f"{url}/accounts/login/",
        data={"login": OWNER[0], "password": OWNER[1], "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{url}/accounts/login/"},
    )
    assert response.ok and "/accounts/login/" not in response.url, "login failed"
    return session


def pages(session: requests.Session, url: str) -> dict[str, str]:
    """The pages to time, by name, as paths on this server (some need a log_id or cursor)."""
    now = dt.datetime.now(dt.UTC)
    listing = session.get(f"{url}/dashboard/{BIG}/logs/").text
    log_path = re.search(rf'href="(/dashboard/{BIG}/logs/[0-9a-f-]{{36}}/)"', listing)
    assert log_path, "no log on the first page"
    # A page 60 days deep, as the 'next' links of the viewer make it (keyset cursor).
    deep_cursor = _cursor(now - dt.timedelta(days=60))
    start, end = (now - dt.timedelta(days=45)).date(), (now - dt.timedelta(days=15)).date()
    base = f"/dashboard/{BIG}"
    return {
        "owner overview": "/dashboard/",
        "dashboard 24 h": f"{base}/?period=24h",
        "dashboard 7 d": f"{base}/?period=7d",
        "dashboard 30 d": f"{base}/?period=30d",
        "dashboard 90 d": f"{base}/?period=90d",
        "dashboard custom 30 d": f"{base}/?period=custom&start={start}&end={end}",
        "dashboard 30 d, staging v1.1": f"{base}/?period=30d&environment=staging&version=v1.1",
        "logs, first page": f"{base}/logs/",
        "logs, 60 days deep": f"{base}/logs/?cursor={deep_cursor}",
        "logs, FAILED in staging": f"{base}/logs/?status=FAILED&environment=staging",
        "logs, by confidence": f"{base}/logs/?sort=confidence",
        "logs, ESCALATED by duration": f"{base}/logs/?status=ESCALATED&sort=-duration",
        "log detail": log_path.group(1),
    }


def _cursor(moment: dt.datetime) -> str:
    import base64
    import json

    raw = json.dumps(
        {"s": "-time", "v": moment.isoformat(), "i": 2**62, "d": "next"}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def export_run(url: str, session: requests.Session, master_pid: int) -> tuple[float, int, float]:
    """A 100,000-row CSV export: (seconds, rows, worker memory growth in MB)."""
    from common import worker_pids

    def rss_mb() -> float:
        total = 0.0
        for pid in worker_pids(master_pid):
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        return total

    now = dt.datetime.now(dt.UTC)
    # The largest client holds 400k logs over 90 days: 100k in 22.5 days.
    start = (now - dt.timedelta(days=22.5)).strftime("%Y-%m-%dT%H:%M")
    before = rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    rows = 0
    with session.get(f"{url}/dashboard/{BIG}/logs/export.csv?start={start}", stream=True) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line:
                rows += 1
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, rows - 1, peak[0] - before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--refill", action="store_true")
    parser.add_argument(
        "--fill-only", action="store_true", help="fill the databases, measure nothing"
    )
    args = parser.parse_args()
    sizes = {"small": args.small, "large": args.large}
    databases = {name: f"flusso_bench_pages_{logs}" for name, logs in sizes.items()}
    for name, logs in sizes.items():
        fill(databases[name], logs, args.refill)
    if args.fill_only:
        return
    manage(databases["small"], "collectstatic", "--no-input", "-v", "0")  # as production

    print(machine())
    with gunicorn(databases["small"]) as small, gunicorn(databases["large"]) as large:
        urls = {"small": small.url, "large": large.url}
        sessions = {name: login(url) for name, url in urls.items()}
        paths = {name: pages(sessions[name], url) for name, url in urls.items()}
        samples: dict[str, dict[str, list[float]]] = {
            page: {"small": [], "large": []} for page in paths["small"]
        }
        for page in samples:
            for _ in range(3):  # warm-up
                for name in urls:
                    sessions[name].get(urls[name] + paths[name][page]).raise_for_status()
            for _ in range(args.rounds):
                for name in urls:
                    started = time.perf_counter()
                    response = sessions[name].get(urls[name] + paths[name][page])
                    samples[page][name].append(time.perf_counter() - started)
                    assert response.status_code == 200, (page, name, response.status_code)
        print(
            f"\n{'page':32s} {sizes['small']:>10,} logs p50/p95   "
            f"{sizes['large']:>10,} logs p50/p95   growth (p95)"
        )
        worst = 0.0
        for page, by_size in samples.items():
            small50, small95 = summary(by_size["small"])
            large50, large95 = summary(by_size["large"])
            growth = large95 / small95
            worst = max(worst, growth)
            print(
                f"{page:32s} {small50:9.1f} / {small95:6.1f} ms   "
                f"{large50:9.1f} / {large95:6.1f} ms   {growth:5.2f}x"
            )
        print(f"\nlargest growth of a page's p95: {worst:.2f}x (target: at most 1.5x)")

    with gunicorn(databases["large"], workers=1) as server:
        seconds, rows, growth = export_run(server.url, login(server.url), server.pid)
        print(
            f"CSV export of {rows:,} rows: {seconds:.1f} s ({rows / seconds:,.0f} rows/s), "
            f"worker memory growth {growth:.1f} MB (target: under 50 MB)"
        )


if __name__ == "__main__":
    main()
