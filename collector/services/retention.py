"""Retention: logs older than their client's ``retention_days`` go, and the rollups with them.

On PostgreSQL a whole month's partition is dropped when every client with logs in it has
expired all of them; everything else is deleted in small batches, each batch subtracting
exactly the rows it deleted (``DELETE ... RETURNING``) from the rollups in its own
transaction. Either way every dashboard number equals a recount of the logs that remain,
after each batch, and two prunes running at once cannot subtract a log twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.db.models import Sum
from django.utils import timezone

from collector import partitions
from collector.log_dependents import dependents_delete_for_logs, dependents_delete_for_span
from collector.models import Client, DurationRollup, ErrorRollup, LogReceipt, Rollup, WorkflowLog
from collector.readmodel import reads
from collector.readmodel.facts import FACT_COLUMNS, LogFacts, Tally
from collector.readmodel.reads import grain_q
from collector.readmodel.writes import deltas_insert, maintenance_lock, rollups_compact

# Logs deleted per transaction: short transactions, and the rows held in memory bounded.
PRUNE_BATCH = 5000


@dataclass
class PruneReport:
    dry_run: bool
    # Client slug -> logs deleted (or, in a dry run, that would be).
    logs_by_client: dict[str, int] = field(default_factory=dict)
    partitions_dropped: list[str] = field(default_factory=list)
    partitions_created: list[str] = field(default_factory=list)

    @property
    def logs(self) -> int:
        return sum(self.logs_by_client.values())


def _cutoffs(now: dt.datetime) -> dict[int, tuple[str, dt.datetime]]:
    clients = Client.objects.filter(retention_days__isnull=False).only(
        "id", "slug", "retention_days"
    )
    return {c.id: (c.slug, now - dt.timedelta(days=c.retention_days or 0)) for c in clients}


def _clients_with_logs(start: dt.datetime, end: dt.datetime) -> set[int]:
    """Clients with logs in [start, end) (whole UTC days), from the day rollups."""
    return set(
        Rollup.objects.filter(grain_q("d", True, start__gte=start, start__lt=end))
        .values("client_id")
        .annotate(runs=Sum("runs"))
        .filter(runs__gt=0)
        .values_list("client_id", flat=True)
    )


def _droppable(
    partition: partitions.Partition, cutoffs: dict[int, tuple[str, dt.datetime]]
) -> bool:
    assert partition.start is not None and partition.end is not None
    holders = _clients_with_logs(partition.start, partition.end)
    return all(
        client_id in cutoffs and cutoffs[client_id][1] >= partition.end for client_id in holders
    )


def _expired_count(client_id: int, cutoff: dt.datetime) -> int:
    """Logs of the client before ``cutoff``, from the read model."""
    (totals,) = reads.totals(
        reads.Scope(client_id=client_id),
        [reads.Span(dt.datetime(1, 1, 2, tzinfo=dt.UTC), cutoff)],
    )
    return int(totals["runs"])


def _partition_holders(name: str) -> dict[int, tuple[int, dt.datetime]]:
    """Per client, (logs, newest timestamp) in a partition: read from the partition itself,
    never from the rollups, which a failed rebuild could have left incomplete."""
    quote = connections["default"].ops.quote_name
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f'SELECT client_id, count(*), max("timestamp") FROM {quote(name)} GROUP BY client_id'  # noqa: S608 (a partition's name from pg_catalog, quoted)
        )
        return {client_id: (count, newest) for client_id, count, newest in cursor.fetchall()}


def _partition_drop(
    partition: partitions.Partition, cutoffs: dict[int, tuple[str, dt.datetime]]
) -> dict[int, int] | None:
    """Drop a month whose logs have all expired; the per-client logs dropped, or None.

    The partition is detached first, which holds the log table until commit, so no log can
    arrive in it between the check and the drop (late logs for that month then go to the
    default partition and are pruned in batches). Whether every log in it has expired is
    read from the partition itself. Its rollups go in the same transaction, under the
    maintenance lock so compaction cannot write them back; its receipts go after, in
    batches taken from the detached table, which is dropped last (``_detached_finish``).
    """
    assert partition.start is not None and partition.end is not None
    start, end = partition.start, partition.end
    connection = connections["default"]
    quote = connection.ops.quote_name
    with maintenance_lock(), transaction.atomic():
        with connection.cursor() as cursor:
            # Deferred foreign-key checks of rows written earlier in this transaction would
            # make the DROP fail ("pending trigger events"); run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"SET LOCAL lock_timeout = '{partitions.LOCK_TIMEOUT}'")
            cursor.execute(
                f"ALTER TABLE {quote(partitions.LOG_TABLE)} DETACH PARTITION "
                f"{quote(partition.name)}"
            )
        holders = _partition_holders(partition.name)
        expired = all(
            client_id in cutoffs and newest < cutoffs[client_id][1]
            for client_id, (_, newest) in holders.items()
        )
        if not expired:
            transaction.set_rollback(True)
            return None
        for model in (Rollup, ErrorRollup, DurationRollup):
            model.objects.filter(start__gte=start, start__lt=end).delete()
        # What other apps keep about the month's logs goes with it (the verdicts name
        # logs, with no foreign key to them).
        dependents_delete_for_span(client_ids=holders.keys(), start=start, end=end)
    _detached_finish(partition.name)
    return {client_id: count for client_id, (count, _) in holders.items()}


def _detached_finish(name: str) -> None:
    """Delete the receipts of a detached month's logs, in batches, then drop it.

    Receipts are matched by the detached table's own (client, log_id) pairs, so a late
    log of that month stored meanwhile in the default partition keeps its receipt. A prune
    interrupted here finishes on the next run (``_detached_leftovers``).
    """
    quote = connections["default"].ops.quote_name
    receipts = quote(LogReceipt._meta.db_table)
    while True:
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {receipts} r USING (SELECT client_id, log_id FROM {quote(name)} "  # noqa: S608 (names from metadata and pg_catalog, quoted)
                f"d WHERE EXISTS (SELECT 1 FROM {receipts} x WHERE x.client_id = d.client_id "
                f"AND x.log_id = d.log_id) LIMIT {PRUNE_BATCH}) gone "
                "WHERE r.client_id = gone.client_id AND r.log_id = gone.log_id"
            )
            if cursor.rowcount < PRUNE_BATCH:
                break
    with connections["default"].cursor() as cursor:
        cursor.execute(f"DROP TABLE {quote(name)}")


def _detached_leftovers() -> list[str]:
    """Month tables a prune detached but had not dropped yet when it stopped."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE %s "
            "AND NOT c.relispartition",
            [f"{partitions.LOG_TABLE}_p%"],
        )
        return [row[0] for row in cursor.fetchall()]


def _delete_batch(client_id: int, cutoff: dt.datetime) -> tuple[int, int]:
    """Delete up to PRUNE_BATCH expired logs and subtract exactly those.

    Returns (logs looked at, logs deleted).
    Only the rows this DELETE removed (RETURNING) are subtracted: a log deleted meanwhile
    by another prune or with its client is never subtracted twice.
    """
    connection = connections["default"]
    table = connection.ops.quote_name(WorkflowLog._meta.db_table)
    time_field = WorkflowLog._meta.get_field("timestamp")
    with transaction.atomic():
        candidates = list(
            WorkflowLog.objects.for_client(client_id)
            .filter(timestamp__lt=cutoff)
            .order_by("timestamp")
            .values_list("id", "log_id", *FACT_COLUMNS)[:PRUNE_BATCH]
        )
        if not candidates:
            return 0, 0
        ids = [row[0] for row in candidates]
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE client_id = %s AND timestamp < %s AND id IN "  # noqa: S608 (names from model metadata, values bound)
                f"({', '.join(['%s'] * len(ids))}) RETURNING id",
                [client_id, time_field.get_db_prep_value(cutoff, connection), *ids],
            )
            deleted = {row[0] for row in cursor.fetchall()}
        gone = [row for row in candidates if row[0] in deleted]
        if gone:
            tally = Tally().add_all((LogFacts(*row[2:]) for row in gone), sign=-1)
            deltas_insert(client_id=client_id, tally=tally)
            gone_ids = [row[1] for row in gone]
            LogReceipt.objects.for_client(client_id).filter(log_id__in=gone_ids).delete()
            dependents_delete_for_logs(client_id=client_id, log_ids=gone_ids)
    return len(candidates), len(gone)


def logs_prune(*, now: dt.datetime | None = None, dry_run: bool = False) -> PruneReport:
    """Apply every client's retention; creates the coming months' partitions too."""
    moment = now or timezone.now()
    report = PruneReport(dry_run=dry_run)
    cutoffs = _cutoffs(moment)
    if dry_run:
        for client_id, (slug, cutoff) in cutoffs.items():
            count = _expired_count(client_id, cutoff)
            if count:
                report.logs_by_client[slug] = count
        return report

    slugs = {client_id: slug for client_id, (slug, _) in cutoffs.items()}
    # Months still inside the window partitions_ensure keeps are never dropped.
    keep_from = partitions.month_add(partitions.month_start(moment), -partitions.MONTHS_BACK)
    if partitions.is_partitioned():
        for name in _detached_leftovers():
            _detached_finish(name)
    for partition in partitions.partitions_list():
        if partition.is_default or partition.end is None or partition.end > keep_from:
            continue
        if not _droppable(partition, cutoffs):  # a cheap first look, from the rollups
            continue
        dropped = _partition_drop(partition, cutoffs)
        if dropped is None:
            continue
        report.partitions_dropped.append(partition.name)
        for client_id, count in dropped.items():
            slug = slugs.get(client_id, str(client_id))
            report.logs_by_client[slug] = report.logs_by_client.get(slug, 0) + count

    for client_id, (slug, cutoff) in cutoffs.items():
        while True:
            seen, deleted = _delete_batch(client_id, cutoff)
            if deleted:
                report.logs_by_client[slug] = report.logs_by_client.get(slug, 0) + deleted
            if seen < PRUNE_BATCH:
                break
    rollups_compact(passes=1000)
    report.partitions_created = partitions.partitions_ensure(now=moment)
    return report
