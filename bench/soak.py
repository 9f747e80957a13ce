"""A soak under faults that loses nothing (a script, not a test; docs/reliability.md).

    .venv/bin/python bench/soak.py --minutes 10 [--rate 30] [--shippers 3] [--workers 2]

Runs its own PostgreSQL 15 (initdb into a temporary directory, fsync on, its own port and
socket directory), so it may kill and restart that database without touching the
machine's. On it: a fresh, migrated database, one client and one API key, and the real
service under gunicorn with the repository's gunicorn.conf.py.

For ``--minutes``, ``--shippers`` separate processes use the shipper library (``configure``
from the environment, ``build_workflow_log`` from the sample states, ``ship_log_async``)
at ``--rate`` logs per second in all, writing every log_id they create to a file, with one
spool directory they share. Two probes beside them, every 0.5 s on a fresh connection:
``GET /api/v1/health``, and ``POST /api/v1/logs`` of one log of their own (its log_id is
expected to be stored once it was acknowledged; unacknowledged ones are resent at the end,
as a client would). Meanwhile the script SIGKILLs a random gunicorn worker at intervals,
stops the whole server for ``--down-seconds`` (SIGTERM, as a deploy does; with
``--server-stop kill``, SIGKILL to every process, as a crash does) and starts it again,
and stops PostgreSQL with ``pg_ctl -m immediate`` (a crash: recovery from the WAL on
start) and starts it again, once each.

At the end the shippers flush and wait for the shared spool to drain, ``python -m shipper
send`` drains what is left, the server stops, the rollups are compacted, and the script
checks: every log_id created is stored exactly once, receipts match the logs, and every
rollup table summed by key equals a recount from the log table (runs per status, logs with
an error, metric counts and sums, error groups, duration histogram totals; hour and day,
per environment/version and over all of them). It prints the load held, the faults, logs
sent, stored, lost and duplicated, and the probes' latency per phase (steady, worker kill,
server down, PostgreSQL restart). Exit status 1 if anything was lost, duplicated, left
undelivered or miscounted.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The bench helpers, and the repository for the shipper package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, free_port, percentile, service_env, worker_pids

PG_BIN = Path(os.environ.get("SOAK_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "flusso_soak"
CLIENT = "soak"
SAMPLES = ROOT / "shipper" / "tests" / "samples"
# Seconds after a fault ends that still count as its phase: the service's recovery
# (workers reconnecting, shippers' backoff ending) shows in the probes there.
SETTLE_SECONDS = 5.0
# Probe interval (seconds) and the timeout of one probe request (connect, read).
PROBE_EVERY = 0.5
PROBE_TIMEOUT = (2.0, 10.0)
# How long the shippers may take at the end to empty their queues and the spool: the
# shipper's backoff is capped at 30 s, so a worker marked down probes again well within.
DRAIN_SECONDS = 120.0
PHASES = ("steady", "worker kill", "server down", "PostgreSQL restart")


# -- the accounting (pure; bench/tests/test_soak.py) ----------------------------------------


@dataclass(frozen=True)
class Fault:
    kind: str  # one of PHASES[1:]
    start: float  # seconds since the run started
    end: float
    detail: str = ""


def phase_of(moment: float, faults: Sequence[Fault], settle: float = SETTLE_SECONDS) -> str:
    """The phase a probe sent at ``moment`` belongs to: the fault whose window (from its
    start to ``settle`` seconds after its end) holds it, else steady."""
    for fault in faults:
        if fault.start <= moment <= fault.end + settle:
            return fault.kind
    return "steady"


@dataclass
class Delivery:
    created: int
    stored: int
    lost: list[str]
    duplicated: int  # stored rows beyond the first, over all log_ids
    unexpected: list[str]  # stored, but no shipper or probe created them

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not self.unexpected


def delivery_check(created: Iterable[str], stored_counts: dict[str, int]) -> Delivery:
    """Compare the log_ids created with the rows stored per log_id."""
    expected = set(created)
    stored = {log_id for log_id, count in stored_counts.items() if count > 0}
    return Delivery(
        created=len(expected),
        stored=sum(stored_counts.values()),
        lost=sorted(expected - stored),
        duplicated=sum(count - 1 for count in stored_counts.values() if count > 1),
        unexpected=sorted(stored - expected),
    )


def table_mismatches(
    name: str,
    rollup: dict[tuple, tuple],
    recount: dict[tuple, tuple],
    columns: Sequence[str],
    float_columns: frozenset[str] = frozenset(),
) -> list[str]:
    """Keys where a rollup table's sums differ from the recount: counts exactly, float
    sums to rounding. A key missing on one side counts as all zeros there."""
    problems = []
    for key in sorted(set(rollup) | set(recount), key=repr):
        got = rollup.get(key, (0,) * len(columns))
        want = recount.get(key, (0,) * len(columns))
        for column, a, b in zip(columns, got, want, strict=True):
            a, b = a or 0, b or 0
            close = abs(a - b) <= 1e-9 * max(1.0, abs(b))
            if not (close if column in float_columns else a == b):
                problems.append(f"{name} {key}: {column} rollup={a} recount={b}")
    return problems


def latency_summary(samples: list[tuple[float, float, bool]], faults: Sequence[Fault]) -> dict:
    """Per phase: probes, failures, p50/p99/max latency in ms of (sent_at, seconds, ok)."""
    by_phase: dict[str, list[tuple[float, bool]]] = {phase: [] for phase in PHASES}
    for sent_at, seconds, ok in samples:
        by_phase[phase_of(sent_at, faults)].append((seconds, ok))
    out = {}
    for phase, rows in by_phase.items():
        times = [seconds for seconds, _ in rows]
        out[phase] = {
            "probes": len(rows),
            "failed": sum(not ok for _, ok in rows),
            "p50_ms": percentile(times, 0.5) * 1000 if times else None,
            "p99_ms": percentile(times, 0.99) * 1000 if times else None,
            "max_ms": max(times) * 1000 if times else None,
        }
    return out


def fault_impact(samples: list[tuple[float, float, bool]], fault: Fault) -> dict:
    """What one fault did to the ingestion probe: its failed probes from the fault's start
    to the next fault-free success, and how long after the fault ended (the server or the
    database was back) the first log was acknowledged again."""
    after = [(sent_at, seconds, ok) for sent_at, seconds, ok in samples if sent_at >= fault.start]
    failed = 0
    first_failure = recovered = None
    for sent_at, seconds, ok in after:
        if ok:
            recovered = sent_at + seconds
            break
        failed += 1
        if first_failure is None:
            first_failure = sent_at
    return {
        "failed_probes": failed,
        # From the first refused probe to the next acknowledgement (0: none was refused).
        "ingest_outage_s": (
            None
            if recovered is None
            else round(recovered - first_failure, 2)
            if first_failure is not None
            else 0.0
        ),
        "acknowledged_again_after_s": (
            None if recovered is None else round(max(0.0, recovered - fault.end), 2)
        ),
    }


def fault_plan(seconds: float, *, down: float, pg_down: float, kill_every: float) -> list:
    """(at, kind, length) for a run of ``seconds``: the server stop at 30%, the PostgreSQL
    restart at 65%, worker kills every ``kill_every`` seconds away from both (each fault
    kind at least once)."""
    down = min(down, seconds / 4)
    big = [(0.30 * seconds, "server down", down), (0.65 * seconds, "PostgreSQL restart", pg_down)]

    def clear(moment: float) -> bool:
        return all(not (at - 3 <= moment <= at + length + SETTLE_SECONDS) for at, _, length in big)

    kills = []
    moment = kill_every / 2
    while moment < seconds - SETTLE_SECONDS:
        if clear(moment):
            kills.append((moment, "worker kill", 0.0))
        moment += kill_every
    if not kills:
        kills.append((min(3.0, seconds / 10), "worker kill", 0.0))
    return sorted(big + kills)


# -- the private PostgreSQL -----------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of our own in ``root``; run as the postgres user when we are
    root (initdb refuses to run as root)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.logfile = root / "postgres.log"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(PG_BIN / program), *args],
            user=self.user,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise SystemExit(
                f"soak: no initdb in {PG_BIN} (apt-get install postgresql-15, or set "
                "SOAK_PG_BIN to a PostgreSQL bin directory)"
            )
        self.root.mkdir(mode=0o700)
        self.sockets.mkdir(mode=0o700)
        if self.user:
            for path in (self.root, self.sockets):
                shutil.chown(path, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.sockets}'",
            # Durability as in production: a commit is on disk before it is acknowledged.
            "fsync": "on",
            "synchronous_commit": "on",
            "full_page_writes": "on",
            "max_connections": "100",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{name} = {value}\n" for name, value in settings.items()))

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "120", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


# -- the service ----------------------------------------------------------------------------


class Service:
    """The service under gunicorn on a fixed port, so it can be stopped and started again."""

    def __init__(self, env: dict[str, str], logfile: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # gunicorn's control socket goes to $XDG_RUNTIME_DIR (else one path per user,
        # shared by every gunicorn on the machine): ours stays in our directory.
        self.env = dict(
            env, GUNICORN_BIND=f"127.0.0.1:{self.port}", XDG_RUNTIME_DIR=str(logfile.parent)
        )
        self.logfile = logfile
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> None:
        import requests

        with self.logfile.open("ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, "-m", "gunicorn", "flusso_site.wsgi", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/api/v1/health", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start (see {self.logfile})")
            time.sleep(0.2)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def kill_worker(self, rng: random.Random) -> int | None:
        pids = worker_pids(self.process.pid) if self.process else []
        if not pids:
            return None
        pid = rng.choice(pids)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return pid


# -- the probes -----------------------------------------------------------------------------


class Probes(threading.Thread):
    """Health and single-log ingestion, each every PROBE_EVERY seconds, fresh connection."""

    def __init__(self, url: str, key: str, t0: float, documents: list[dict]) -> None:
        super().__init__(name="soak-probes", daemon=True)
        self.url = url
        self.key = key
        self.t0 = t0
        self.documents = documents
        self.stop_event = threading.Event()
        self.health: list[tuple[float, float, bool]] = []
        self.ingest: list[tuple[float, float, bool]] = []
        self.acknowledged: list[str] = []
        self.unacknowledged: list[dict] = []
        self.statuses: Counter[str] = Counter()
        self.health_errors: Counter[str] = Counter()

    def post(self, document: dict) -> tuple[bool, str]:
        import requests

        try:
            response = requests.post(
                self.url + "/api/v1/logs",
                data=json.dumps(document),
                headers={
                    "Authorization": f"Bearer {self.key}",
                    "Content-Type": "application/json",
                    "Connection": "close",
                },
                timeout=PROBE_TIMEOUT,
            )
        except requests.RequestException as exc:
            return False, type(exc).__name__
        return response.status_code in (200, 201), answer_label(response)

    def run(self) -> None:
        import requests

        rng = random.Random(7)
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            sent_at = time.monotonic()
            try:
                response = requests.get(
                    self.url + "/api/v1/health",
                    headers={"Connection": "close"},
                    timeout=PROBE_TIMEOUT,
                )
                ok = response.status_code == 200
                if not ok:
                    self.health_errors[answer_label(response)] += 1
            except requests.RequestException as exc:
                ok = False
                self.health_errors[type(exc).__name__] += 1
            self.health.append((sent_at - self.t0, time.monotonic() - sent_at, ok))

            document = dict(rng.choice(self.documents), log_id=str(uuid.uuid4()))
            document["timestamp"] = _now_iso()
            sent_at = time.monotonic()
            ok, status = self.post(document)
            self.ingest.append((sent_at - self.t0, time.monotonic() - sent_at, ok))
            self.statuses[status] += 1
            (self.acknowledged if ok else self.unacknowledged).append(
                document["log_id"] if ok else document
            )
            next_at += PROBE_EVERY
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))

    def resend_unacknowledged(self, deadline: float) -> list[str]:
        """Resend every probe log the service did not acknowledge (same log_id), as a
        client would; returns the log_ids still unacknowledged at ``deadline``."""
        pending = list(self.unacknowledged)
        while pending and time.monotonic() < deadline:
            document = pending[0]
            ok, _ = self.post(document)
            if ok:
                self.acknowledged.append(pending.pop(0)["log_id"])
            else:
                time.sleep(1)
        return [document["log_id"] for document in pending]


def answer_label(response: Any) -> str:
    """The status code, marked when an error answer is not the API's JSON error shape."""
    label = str(response.status_code)
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
            label += " not-JSON-error"
    return label


def answer_problems(labels: Iterable[str]) -> list[str]:
    """Answers a client must never get, even while the server or the database is down:
    a 500, or an error that is not the API's JSON error shape."""
    return sorted(label for label in set(labels) if label.startswith("500") or "not-JSON" in label)


def _now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat()


# -- the shipper processes ------------------------------------------------------------------


def load_states() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(SAMPLES.glob("state_*.json"))]


def ship_main(args: argparse.Namespace) -> int:
    """One shipper process: ship at ``--rate`` logs/s for ``--seconds``, then flush and wait
    for the shared spool to drain; write the counts to ``--stats``."""
    import logging

    import shipper

    # The shipper's own lines (retries, spooling, outages) go to this process's log file.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rng = random.Random(args.index)
    states = load_states()
    versions = ("v1.0", "v1.1")
    period = 1.0 / args.rate
    created = 0
    behind = 0  # sends skipped because the process fell more than a second behind
    started = time.monotonic()
    deadline = started + args.seconds
    next_at = started
    with open(args.ids, "a", buffering=1) as ids:
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if now < next_at:
                time.sleep(min(next_at - now, deadline - now))
                continue
            if now - next_at > 1.0:
                missed = int((now - next_at) / period)
                behind += missed
                next_at += missed * period
            next_at += period
            state = copy.deepcopy(rng.choice(states))
            state["ticket_id"] = str(rng.randrange(10_000, 99_999))
            end = time.time()
            log = shipper.build_workflow_log(
                state, end - rng.uniform(0.5, 40.0), end, workflow_version=rng.choice(versions)
            )
            ids.write(log["log_id"] + "\n")
            shipper.ship_log_async(log)
            created += 1
    sending = time.monotonic() - started
    flushed = shipper.flush(DRAIN_SECONDS / 2)
    spool = Path(os.environ["LOG_SPOOL_DIR"])
    drain_deadline = time.monotonic() + DRAIN_SECONDS
    while any(spool.glob("*.json")) and time.monotonic() < drain_deadline:
        time.sleep(0.5)
    # Read before shutdown(), which drops the client and its counters; what shutdown
    # spools (shutdown_clean false) is drained by ``python -m shipper send`` afterwards.
    stats = shipper.stats() or {}
    shutdown_clean = shipper.shutdown(10)
    Path(args.stats).write_text(
        json.dumps(
            {
                "created": created,
                "behind": behind,
                "seconds": sending,
                "flushed": flushed,
                "shutdown_clean": shutdown_clean,
                "stats": stats,
            }
        )
    )
    return 0


# -- the run --------------------------------------------------------------------------------


@dataclass
class Report:
    minutes: float
    rate: float
    shippers: int
    workers: int
    achieved_rate: float = 0.0
    faults: list[dict] = field(default_factory=list)
    created_by_shippers: int = 0
    created_by_probe: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    receipts: int = 0
    rollup_problems: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    shipper_stats: dict = field(default_factory=dict)
    probe_statuses: dict = field(default_factory=dict)
    health_errors: dict = field(default_factory=dict)
    health: dict = field(default_factory=dict)
    ingest: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (
            not (self.lost or self.duplicated or self.unexpected or self.rollup_problems)
            and not self.problems
        )


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def stored_counts(url: str) -> tuple[dict[str, int], int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT log_id::text, count(*) FROM collector_workflowlog GROUP BY log_id"
        ).fetchall()
        receipts = conn.execute("SELECT count(*) FROM collector_logreceipt").fetchone()[0]
    return dict(rows), receipts


_STATUS_COUNTS = (
    "count(*)",
    "count(*) FILTER (WHERE status = 'SUCCESS')",
    "count(*) FILTER (WHERE status = 'FAILED')",
    "count(*) FILTER (WHERE status = 'ERROR')",
    "count(*) FILTER (WHERE status = 'ESCALATED')",
    "count(*) FILTER (WHERE error_type <> '')",
    "count(overall_confidence)",
    "sum(overall_confidence)",
    "count(hallucination_risk)",
    "sum(hallucination_risk)",
    "count(react_iterations)",
    "sum(react_iterations)",
    "count(execution_time_seconds)",
    "sum(execution_time_seconds)",
)
_ROLLUP_COLUMNS = (
    "runs",
    "n_success",
    "n_failed",
    "n_error",
    "n_escalated",
    "n_with_error",
    "conf_n",
    "conf_sum",
    "risk_n",
    "risk_sum",
    "iter_n",
    "iter_sum",
    "exec_n",
    "exec_sum",
)
_FLOATS = frozenset({"conf_sum", "risk_sum", "iter_sum", "exec_sum"})
# grain -> (date_trunc unit, per environment/version?)
_GRAINS = {"h": ("hour", True), "d": ("day", True), "H": ("hour", False), "D": ("day", False)}


def rollup_check(url: str) -> list[str]:
    """Every rollup table summed by key equals the same measures counted from the log
    table, at every grain. Written in SQL, independently of the read model's code."""
    import psycopg

    problems: list[str] = []
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")

        def grouped(sql: str, width: int) -> dict[tuple, tuple]:
            return {tuple(row[:width]): tuple(row[width:]) for row in conn.execute(sql)}

        pending = conn.execute(
            "SELECT (SELECT count(*) FROM collector_rollup WHERE NOT compacted)"
            " + (SELECT count(*) FROM collector_errorrollup WHERE NOT compacted)"
            " + (SELECT count(*) FROM collector_durationrollup WHERE NOT compacted)"
        ).fetchone()[0]
        if pending:
            problems.append(f"{pending} rollup delta row(s) left uncompacted")
        for grain, (unit, per_dimension) in _GRAINS.items():
            dims = "environment, workflow_version" if per_dimension else "'', ''"
            key = f"client_id, date_trunc('{unit}', timestamp) AS s, {dims}"
            raw = grouped(
                f"SELECT {key}, {', '.join(_STATUS_COUNTS)} "
                "FROM collector_workflowlog GROUP BY 1, 2, 3, 4",
                4,
            )
            sums = ", ".join(f"sum({c})" for c in _ROLLUP_COLUMNS)
            rolled = grouped(
                "SELECT client_id, start, environment, workflow_version, "
                f"{sums} FROM collector_rollup WHERE grain = '{grain}' GROUP BY 1, 2, 3, 4",
                4,
            )
            problems += table_mismatches(f"rollup[{grain}]", rolled, raw, _ROLLUP_COLUMNS, _FLOATS)
            raw = grouped(
                f"SELECT {key}, error_type, error_node, count(*) FROM collector_workflowlog "
                "WHERE NOT (error_type = '' AND error_node = '') GROUP BY 1, 2, 3, 4, 5, 6",
                6,
            )
            rolled = grouped(
                "SELECT client_id, start, environment, workflow_version, error_type, "
                f"error_node, sum(runs) FROM collector_errorrollup WHERE grain = '{grain}' "
                "GROUP BY 1, 2, 3, 4, 5, 6",
                6,
            )
            problems += table_mismatches(f"error rollup[{grain}]", rolled, raw, ("runs",))
            raw = grouped(
                f"SELECT {key}, count(execution_time_seconds) FROM collector_workflowlog "
                "GROUP BY 1, 2, 3, 4",
                4,
            )
            raw = {k: v for k, v in raw.items() if v[0]}
            rolled = grouped(
                "SELECT client_id, start, environment, workflow_version, sum(runs) "
                f"FROM collector_durationrollup WHERE grain = '{grain}' GROUP BY 1, 2, 3, 4",
                4,
            )
            problems += table_mismatches(f"duration rollup[{grain}]", rolled, raw, ("runs",))
    return problems


def soak(args: argparse.Namespace) -> Report:
    report = Report(
        minutes=args.minutes, rate=args.rate, shippers=args.shippers, workers=args.workers
    )
    seconds = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="flusso-soak-"))
    os.chmod(work, 0o711)  # the postgres user walks through it to its own directory
    postgres = PrivatePostgres(work / "pg")
    service: Service | None = None
    children: list[subprocess.Popen] = []
    rng = random.Random(args.seed)
    try:
        postgres.init()
        postgres.start()
        import psycopg

        with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        env = service_env(
            DATABASE,
            DATABASE_URL=postgres.url(DATABASE),
            WEB_CONCURRENCY=str(args.workers),
            GUNICORN_THREADS=str(args.threads),
            LOG_LEVEL="ERROR",
        )
        env.pop("REDIS_URL", None)  # never the machine's shared Redis
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "create_partitions")
        manage(env, "create_client", CLIENT, "--name", "Soak")
        key = manage(env, "create_api_key", CLIENT, "--label", "soak").strip().splitlines()[-1]
        service = Service(env, work / "gunicorn.log")
        service.start()
        print(f"service {service.url} ({args.workers} workers), PostgreSQL :{postgres.port}")

        spool = work / "spool"
        spool.mkdir()
        ship_env = dict(
            os.environ,
            LOG_COLLECTOR_URL=service.url + "/api/v1/logs",
            LOG_COLLECTOR_API_KEY=key,
            CLIENT_ID=CLIENT,
            LOG_SPOOL_DIR=str(spool),
            LOG_PII_SALT="soak-" + uuid.uuid4().hex,
        )
        documents = _probe_documents()
        t0 = time.monotonic()
        for index in range(args.shippers):
            child_env = dict(ship_env, ENVIRONMENT=("production", "staging")[index % 2])
            children.append(
                subprocess.Popen(
                    [
                        PYTHON,
                        __file__,
                        "_ship",
                        "--index",
                        str(index),
                        "--rate",
                        str(args.rate / args.shippers),
                        "--seconds",
                        str(seconds),
                        "--ids",
                        str(work / f"ids-{index}.txt"),
                        "--stats",
                        str(work / f"stats-{index}.json"),
                    ],
                    cwd=ROOT,
                    env=child_env,
                    stderr=(work / f"shipper-{index}.log").open("wb"),
                )
            )
        probes = Probes(service.url, key, t0, documents)
        probes.start()

        faults: list[Fault] = []
        for at, kind, length in fault_plan(
            seconds,
            down=args.down_seconds,
            pg_down=args.pg_down_seconds,
            kill_every=args.kill_every,
        ):
            _sleep_until(t0 + at)
            start = time.monotonic() - t0
            if kind == "worker kill":
                pid = service.kill_worker(rng)
                detail = f"SIGKILL worker {pid}" if pid else "no worker to kill"
            elif kind == "server down":
                sig = signal.SIGKILL if args.server_stop == "kill" else signal.SIGTERM
                service.stop(sig)
                _sleep_until(time.monotonic() + length)
                service.start()
                detail = f"{sig.name} to every process, {length:.0f} s down, started again"
            else:
                postgres.stop("immediate")
                _sleep_until(time.monotonic() + length)
                postgres.start()
                detail = f"pg_ctl stop -m immediate, {length:.0f} s down, started (recovery)"
            fault = Fault(kind, start, time.monotonic() - t0, detail)
            faults.append(fault)
            print(f"  {fault.start:7.1f}s  {kind:<18} {detail} ({fault.end - fault.start:.1f} s)")
        _sleep_until(t0 + seconds)
        probes.stop_event.set()
        probes.join(timeout=30)
        report.faults = [asdict(f) | fault_impact(probes.ingest, f) for f in faults]

        print("sending done; shippers flushing and draining the spool")
        for child in children:
            code = child.wait(timeout=DRAIN_SECONDS * 2 + 60)
            if code:
                report.problems.append(f"a shipper process exited {code}")
        unsettled = probes.resend_unacknowledged(time.monotonic() + 60)
        if unsettled:
            report.problems.append(f"{len(unsettled)} probe log(s) never acknowledged")
        drain = subprocess.run(
            [PYTHON, "-m", "shipper", "send"], cwd=ROOT, env=ship_env, capture_output=True
        )
        if drain.returncode:
            report.problems.append(f"python -m shipper send exited {drain.returncode}")
        left = list(spool.glob("*.json"))
        if left:
            report.problems.append(f"{len(left)} spool file(s) left undelivered")
        service.stop()

        created: list[str] = []
        totals: Counter[str] = Counter()
        sent_seconds = 0.0
        for index in range(args.shippers):
            ids_file = work / f"ids-{index}.txt"
            created += ids_file.read_text().split() if ids_file.exists() else []
            stats_file = work / f"stats-{index}.json"
            if stats_file.exists():
                stats = json.loads(stats_file.read_text())
                totals.update(stats["stats"])
                totals["behind"] += stats["behind"]
                sent_seconds = max(sent_seconds, stats["seconds"])
            else:
                report.problems.append(f"shipper {index} wrote no stats")
        if len(set(created)) != len(created):
            report.problems.append("a shipper created the same log_id twice")
        report.created_by_shippers = len(created)
        report.created_by_probe = len(probes.acknowledged) + len(unsettled)
        report.achieved_rate = len(created) / sent_seconds if sent_seconds else 0.0
        report.shipper_stats = dict(totals)
        if totals["dropped"]:
            report.problems.append(f"the shippers dropped {totals['dropped']} log(s)")
        if totals["rejected"]:
            report.problems.append(f"the collector rejected {totals['rejected']} log(s)")
        report.probe_statuses = dict(probes.statuses)
        report.health_errors = dict(probes.health_errors)
        bad = answer_problems([*probes.statuses, *probes.health_errors])
        if bad:
            report.problems.append(f"the probes got answers no client should: {bad}")
        report.health = latency_summary(probes.health, faults)
        report.ingest = latency_summary(probes.ingest, faults)

        # Compaction as the service's background thread does it, to the end.
        manage(
            env,
            "shell",
            "-c",
            "from collector.readmodel.writes import rollups_compact\n"
            "while rollups_compact(passes=50): pass",
        )
        counts, report.receipts = stored_counts(postgres.url(DATABASE))
        delivery = delivery_check(created + probes.acknowledged + unsettled, counts)
        report.stored = delivery.stored
        report.lost = len(delivery.lost)
        report.duplicated = delivery.duplicated
        report.unexpected = len(delivery.unexpected)
        if delivery.lost:
            report.problems.append(f"lost, e.g. {delivery.lost[:3]}")
        if report.receipts != len([c for c in counts.values() if c]):
            report.problems.append(
                f"{report.receipts} receipts for {len(counts)} distinct stored log_ids"
            )
        report.rollup_problems = rollup_check(postgres.url(DATABASE))
        return report
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        if service is not None:
            service.stop()
        if postgres.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                postgres.stop("immediate")
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _probe_documents() -> list[dict]:
    """Logs built by the shipper from the sample states, for the ingestion probe."""
    import shipper

    now = time.time()
    documents = [shipper.build_workflow_log(state, now - 3, now) for state in load_states()]
    return [dict(d, client_id=CLIENT, environment="probe") for d in documents]


def _sleep_until(moment: float) -> None:
    while (remaining := moment - time.monotonic()) > 0:
        time.sleep(min(remaining, 0.5))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_report(report: Report) -> None:
    print()
    print(
        f"load: target {report.rate:.1f} logs/s from {report.shippers} shipper processes, "
        f"achieved {report.achieved_rate:.1f} logs/s "
        f"({report.shipper_stats.get('behind', 0)} sends skipped behind schedule)"
    )
    kinds = Counter(f["kind"] for f in report.faults)
    print("faults: " + ", ".join(f"{kinds[k]} x {k}" for k in PHASES[1:]))
    for f in report.faults:
        again = f["acknowledged_again_after_s"]
        print(
            f"  {f['start']:7.1f}s  {f['kind']:<18} {f['end'] - f['start']:5.1f} s; ingest probe: "
            + (
                "never acknowledged again"
                if again is None
                else f"{f['failed_probes']} refused over {f['ingest_outage_s']:.1f} s, "
                f"next acknowledgement {again:.1f} s after the fault ended"
            )
        )
    stats = report.shipper_stats
    print(
        "shippers: "
        + ", ".join(
            f"{name} {stats.get(name, 0)}"
            for name in ("sent", "duplicates", "retried", "spooled", "unspooled", "dropped")
        )
    )
    print(f"ingest probe answers: {dict(sorted(report.probe_statuses.items()))}")
    print(f"health probe failures: {dict(sorted(report.health_errors.items()))}")
    print(
        f"logs: sent {report.created_by_shippers} by the shippers + {report.created_by_probe} "
        f"by the probe, stored {report.stored}, lost {report.lost}, "
        f"duplicated {report.duplicated}, unexpected {report.unexpected}"
    )
    print(
        "rollups vs recount: "
        + ("equal" if not report.rollup_problems else f"{len(report.rollup_problems)} differ")
    )
    for problem in report.rollup_problems[:10]:
        print(f"  {problem}")
    for name, table in (("health", report.health), ("ingest (POST one log)", report.ingest)):
        print(f"\n{name} probe latency, ms    probes  failed     p50     p99     max")
        for phase in PHASES:
            row = table.get(phase) or {}
            print(
                f"  {phase:<22} {row.get('probes', 0):7d} {row.get('failed', 0):7d} "
                f"{_ms(row.get('p50_ms')):>7} {_ms(row.get('p99_ms')):>7} "
                f"{_ms(row.get('max_ms')):>7}"
            )
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print("\nRESULT: " + ("PASS" if report.passed else "FAIL"))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_ship"]:
        parser = argparse.ArgumentParser(prog="soak.py _ship")
        parser.add_argument("--index", type=int, required=True)
        parser.add_argument("--rate", type=float, required=True)
        parser.add_argument("--seconds", type=float, required=True)
        parser.add_argument("--ids", required=True)
        parser.add_argument("--stats", required=True)
        return ship_main(parser.parse_args(argv[1:]))
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show as they happen
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0, help="logs/s over all shippers")
    parser.add_argument("--shippers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--down-seconds", type=float, default=20.0)
    parser.add_argument(
        "--server-stop",
        choices=("term", "kill"),
        default="term",
        help="stop the server as a deploy does (SIGTERM) or as a crash does (SIGKILL)",
    )
    parser.add_argument("--pg-down-seconds", type=float, default=3.0)
    parser.add_argument("--kill-every", type=float, default=30.0, help="seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    args.kill_every = min(args.kill_every, args.minutes * 60 / 5)

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    report = soak(args)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
