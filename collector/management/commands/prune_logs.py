from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from collector.services import logs_prune


class Command(BaseCommand):
    help = (
        "Delete logs older than their client's retention_days, with their rollups, and "
        "create the coming months' partitions. Run it daily (cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be deleted; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = logs_prune(dry_run=options["dry_run"])
        verb = "Would delete" if report.dry_run else "Deleted"
        self.stdout.write(f"{verb} {report.logs} expired log(s).")
        for slug, count in sorted(report.logs_by_client.items()):
            self.stdout.write(f"  {slug}: {count}")
        for name in report.partitions_dropped:
            self.stdout.write(f"Dropped partition {name}.")
        for name in report.partitions_created:
            self.stdout.write(f"Created partition {name}.")
