"""What the read model counts per log, in one place (pure Python, no database).

Ingestion, the rebuild from raw logs, retention pruning and the dashboards' edge scans all
turn logs into rollup numbers through ``tally_add`` here, so the rollups and a recount from
raw logs cannot disagree on a definition.

Three kinds of rows (see ``collector.models``):

- rows per (client, UTC hour or day, environment, workflow version): run counts by status,
  sums and counts of the metrics (for means), the execution-time chart's buckets and the
  calibration buckets, the newest timestamp;
- error rows per (client, hour or day, environment, version, error type, error node);
- duration rows per (client, hour or day, environment, version, duration bucket): a
  log-spaced histogram of execution times from which p50/p95 are read within
  ``DURATION_RELATIVE_ERROR``.

Each log counts once at each grain (hour, day, and both over all environments and
versions): a window reads whole days, then whole hours, then its sub-hour edges raw.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

# Upper edges (seconds) of the execution-time chart's buckets; a last open bucket holds the
# rest. Runs take seconds to a minute: finer at the short end where most runs fall.
EXECUTION_TIME_EDGES = (2, 4, 6, 8, 10, 15, 20, 30, 60)
EXECUTION_BUCKETS = len(EXECUTION_TIME_EDGES) + 1
# Calibration: ten confidence buckets of width 0.1 ([low, high), the last one closed).
CALIBRATION_BUCKETS = 10

STATUS_COLUMNS = {
    "SUCCESS": "n_success",
    "FAILED": "n_failed",
    "ERROR": "n_error",
    "ESCALATED": "n_escalated",
}
# The metrics whose means the dashboards show: (column of the log, prefix in the rollup).
MEAN_METRICS = (
    ("overall_confidence", "conf"),
    ("hallucination_risk", "risk"),
    ("react_iterations", "iter"),
    ("execution_time_seconds", "exec"),
)

# Every additive measure of an hourly row, in a fixed order.
HOURLY_MEASURES: tuple[str, ...] = (
    "runs",
    *STATUS_COLUMNS.values(),
    "n_with_error",
    *(f"{prefix}_{part}" for _, prefix in MEAN_METRICS for part in ("n", "sum")),
    *(f"exec_h{i}" for i in range(EXECUTION_BUCKETS)),
    *(f"cal_n{i}" for i in range(CALIBRATION_BUCKETS)),
    *(f"cal_s{i}" for i in range(CALIBRATION_BUCKETS)),
)
# Measures that hold float sums; the others are integer counts.
FLOAT_MEASURES = frozenset(f"{prefix}_sum" for _, prefix in MEAN_METRICS)

# Duration histogram: bucket i >= 1 holds (MIN * G**(i-1), MIN * G**i]; read back as
# 2 * MIN * G**i / (G + 1), which is within DURATION_RELATIVE_ERROR of every value in it
# (the DDSketch construction). Bucket 0 holds [0, MIN] and reads as 0.
DURATION_RELATIVE_ERROR = 0.02
DURATION_GAMMA = (1 + DURATION_RELATIVE_ERROR) / (1 - DURATION_RELATIVE_ERROR)
DURATION_MIN_SECONDS = 0.001
# The last bucket ends past a week; longer runs are read as its value (no run takes that).
DURATION_MAX_SECONDS = 7 * 24 * 3600.0
DURATION_LAST_BUCKET = math.ceil(
    math.log(DURATION_MAX_SECONDS / DURATION_MIN_SECONDS) / math.log(DURATION_GAMMA)
)
_LOG_GAMMA = math.log(DURATION_GAMMA)


def duration_bucket(seconds: float) -> int:
    if seconds <= DURATION_MIN_SECONDS:
        return 0
    if seconds >= DURATION_MAX_SECONDS:
        return DURATION_LAST_BUCKET
    index = math.ceil(math.log(seconds / DURATION_MIN_SECONDS) / _LOG_GAMMA)
    # Rounding in log() can put a value sitting on an edge one bucket off; settle it
    # against the edges themselves so every caller agrees on the bucket.
    if seconds <= DURATION_MIN_SECONDS * DURATION_GAMMA ** (index - 1):
        index -= 1
    elif seconds > DURATION_MIN_SECONDS * DURATION_GAMMA**index:
        index += 1
    return max(1, min(index, DURATION_LAST_BUCKET))


def duration_value(bucket: int) -> float:
    """The value a bucket reads as."""
    if bucket <= 0:
        return 0.0
    return 2 * DURATION_MIN_SECONDS * DURATION_GAMMA**bucket / (DURATION_GAMMA + 1)


def percentile_from_histogram(counts: dict[int, int], fraction: float) -> float | None:
    """``percentile_cont(fraction)`` of the values a duration histogram holds.

    As PostgreSQL's percentile_cont: the values at ranks floor and ceil of
    ``fraction * (n - 1)``, linearly interpolated; each value is its bucket's reading, so
    the result is within DURATION_RELATIVE_ERROR of the exact one (plus 1 ms for runs
    under DURATION_MIN_SECONDS).
    """
    total = sum(count for count in counts.values() if count > 0)
    if total <= 0:
        return None
    position = fraction * (total - 1)
    low_rank, high_rank = math.floor(position), math.ceil(position)
    low_value = high_value = None
    seen = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        if count <= 0:
            continue
        seen += count
        if low_value is None and low_rank < seen:
            low_value = duration_value(bucket)
        if high_rank < seen:
            high_value = duration_value(bucket)
            break
    assert low_value is not None and high_value is not None  # ranks are below total
    return low_value + (high_value - low_value) * (position - low_rank)


def execution_bucket(seconds: float) -> int:
    for index, edge in enumerate(EXECUTION_TIME_EDGES):
        if seconds < edge:
            return index
    return len(EXECUTION_TIME_EDGES)


def calibration_bucket(confidence: float) -> int:
    # [i/10, (i+1)/10), the last bucket closed so a confidence of exactly 1.0 counts. The
    # comparison is with the edges as the old SQL compared them (i / 10 as a float).
    for index in range(1, CALIBRATION_BUCKETS):
        if confidence < index / CALIBRATION_BUCKETS:
            return index - 1
    return CALIBRATION_BUCKETS - 1


def hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: dt.datetime) -> dt.datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + dt.timedelta(hours=1)


def day_floor(moment: dt.datetime) -> dt.datetime:
    return hour_floor(moment).replace(hour=0)


def day_ceil(moment: dt.datetime) -> dt.datetime:
    floor = day_floor(moment)
    return floor if floor == moment else floor + dt.timedelta(days=1)


@dataclass(frozen=True)
class LogFacts:
    """The typed columns of one log that the read model counts."""

    timestamp: dt.datetime
    environment: str
    workflow_version: str
    status: str
    execution_time_seconds: float | None
    overall_confidence: float | None
    hallucination_risk: float | None
    react_iterations: int | None
    error_type: str
    error_node: str


# The log columns LogFacts is made of, in its field order: what reads select.
FACT_COLUMNS = tuple(LogFacts.__dataclass_fields__)
# What each measure is counted from (timestamp and the key columns always are).
_MEASURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": (),
    **{column: ("status",) for column in STATUS_COLUMNS.values()},
    "n_with_error": ("error_type",),
    **{f"{prefix}_{part}": (column,) for column, prefix in MEAN_METRICS for part in ("n", "sum")},
    **{f"exec_h{i}": ("execution_time_seconds",) for i in range(EXECUTION_BUCKETS)},
    **{f"cal_n{i}": ("overall_confidence",) for i in range(CALIBRATION_BUCKETS)},
    **{f"cal_s{i}": ("overall_confidence", "status") for i in range(CALIBRATION_BUCKETS)},
}


def fact_columns_for(measures: Iterable[str]) -> frozenset[str]:
    """The log columns the given measures need (a read of a few measures selects less)."""
    needed = {"timestamp", "environment", "workflow_version"}
    for name in measures:
        needed.update(_MEASURE_COLUMNS[name])
    return frozenset(needed)


def _zero() -> dict[str, float]:
    return dict.fromkeys(HOURLY_MEASURES, 0)


# (grain, day or hour, per environment and version or over all of them). Upper case:
# every environment and version together, stored with both left empty. Writers append
# deltas of the per-dimension grains only; compaction folds them into the upper-case rows
# (collector.readmodel.writes), and reads of every environment add the deltas not folded
# yet (collector.readmodel.reads.all_dimensions).
GRAINS = (("h", False, True), ("d", True, True), ("H", False, False), ("D", True, False))
DELTA_GRAINS = GRAINS[:2]


class Tally:
    """Rollup numbers being added up, keyed as the three tables are.

    Every log counts in its UTC hour (grain "h") and its UTC day (grain "d"), and, for a
    rebuild, in both again over all environments and versions ("H", "D"). ``sign`` -1
    subtracts (logs deleted by retention). A Tally is what ingestion writes as delta rows,
    and what a read adds raw edge logs into.
    """

    def __init__(self, *, all_dimensions: bool = False) -> None:
        # Deltas count the per-dimension grains; a rebuild writes all four at once.
        self.grains = GRAINS if all_dimensions else DELTA_GRAINS
        # (grain, start, environment, version) -> measures
        self.rows: dict[tuple[str, dt.datetime, str, str], dict[str, float]] = {}
        self.last_at: dict[tuple[str, dt.datetime, str, str], dt.datetime] = {}
        # (grain, start, environment, version, error type, error node) -> [runs, newest]
        self.errors: dict[tuple[str, dt.datetime, str, str, str, str], list] = {}
        # (grain, start, environment, version, bucket) -> runs
        self.durations: dict[tuple[str, dt.datetime, str, str, int], int] = {}

    def add(self, facts: LogFacts, *, sign: int = 1) -> None:
        hour = hour_floor(facts.timestamp)
        day = hour.replace(hour=0)
        found = contributions(facts)
        seconds = facts.execution_time_seconds
        bucket = duration_bucket(seconds) if seconds is not None else None
        has_error = bool(facts.error_type or facts.error_node)
        for grain, daily, per_dimension in self.grains:
            start = day if daily else hour
            if per_dimension:
                key = (grain, start, facts.environment, facts.workflow_version)
            else:
                key = (grain, start, "", "")
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = _zero()
            for name, value in found:
                row[name] += sign * value
            if sign > 0:
                newest = self.last_at.get(key)
                if newest is None or facts.timestamp > newest:
                    self.last_at[key] = facts.timestamp
            if bucket is not None:
                bucket_key = (*key, bucket)
                self.durations[bucket_key] = self.durations.get(bucket_key, 0) + sign
            if has_error:
                error_key = (*key, facts.error_type, facts.error_node)
                entry = self.errors.get(error_key)
                if entry is None:
                    entry = self.errors[error_key] = [0, None]
                entry[0] += sign
                if sign > 0 and (entry[1] is None or facts.timestamp > entry[1]):
                    entry[1] = facts.timestamp

    def add_all(self, logs: Iterable[LogFacts], *, sign: int = 1) -> Tally:
        for facts in logs:
            self.add(facts, sign=sign)
        return self


def contributions(facts: LogFacts) -> list[tuple[str, float]]:
    """What one log adds to each measure of its rows."""
    found: list[tuple[str, float]] = [("runs", 1)]
    status_column = STATUS_COLUMNS.get(facts.status)
    if status_column:
        found.append((status_column, 1))
    if facts.error_type:
        found.append(("n_with_error", 1))
    for column, prefix in MEAN_METRICS:
        value = getattr(facts, column)
        if value is not None:
            found += [(f"{prefix}_n", 1), (f"{prefix}_sum", value)]
    seconds = facts.execution_time_seconds
    if seconds is not None:
        found.append((f"exec_h{execution_bucket(seconds)}", 1))
    confidence = facts.overall_confidence
    if confidence is not None:
        bucket = calibration_bucket(confidence)
        found.append((f"cal_n{bucket}", 1))
        if facts.status == "SUCCESS":
            found.append((f"cal_s{bucket}", 1))
    return found
