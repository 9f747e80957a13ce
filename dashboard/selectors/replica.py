"""How far the read replica is behind the primary (the owner overview shows it)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DatabaseError, connections

from flusso_site.routers import REPLICA, replica_configured


@dataclass(frozen=True)
class ReplicaStatus:
    reachable: bool
    # WAL the replica has received but not replayed yet, and the primary's WAL not yet
    # received: what the pages it serves do not show yet.
    bytes_behind: int | None = None
    # Seconds since the last transaction the replica replayed was committed on the primary,
    # when it is behind (an idle primary would make this grow on a replica that is current).
    seconds_behind: float | None = None

    @property
    def current(self) -> bool:
        return self.reachable and not self.bytes_behind


def replica_status() -> ReplicaStatus | None:
    """None without a replica; otherwise how far behind it is, asked of both servers."""
    if not replica_configured():
        return None
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            primary_lsn = cursor.fetchone()[0]
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), "
                "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())",
                [primary_lsn],
            )
            behind, seconds = cursor.fetchone()
    except DatabaseError:
        return ReplicaStatus(reachable=False)
    behind_bytes = max(0, int(behind or 0))
    return ReplicaStatus(
        reachable=True,
        bytes_behind=behind_bytes,
        seconds_behind=float(seconds) if behind_bytes and seconds is not None else None,
    )
