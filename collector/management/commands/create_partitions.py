from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from collector import partitions


class Command(BaseCommand):
    help = (
        "Create the log table's monthly partitions (PostgreSQL) from --months-back before "
        "now to --months-ahead after; prune_logs does this daily too. Logs of a month "
        "without a partition wait in the default partition and are moved in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months-ahead", type=int, default=partitions.MONTHS_AHEAD)
        parser.add_argument("--months-back", type=int, default=partitions.MONTHS_BACK)

    def handle(self, *args: Any, **options: Any) -> None:
        if not partitions.is_partitioned():
            self.stdout.write("The log table is not partitioned here (SQLite): nothing to do.")
            return
        created = partitions.partitions_ensure(
            now=timezone.now(),
            months_back=max(0, options["months_back"]),
            months_ahead=max(0, options["months_ahead"]),
        )
        for name in created:
            self.stdout.write(f"Created partition {name}.")
        if not created:
            self.stdout.write("Every partition in that range exists.")
