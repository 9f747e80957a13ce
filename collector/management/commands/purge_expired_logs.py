from __future__ import annotations

from typing import Any

from collector.management.commands.prune_logs import Command as PruneLogsCommand


class Command(PruneLogsCommand):
    help = "The former name of prune_logs, kept for existing cron lines: " + PruneLogsCommand.help

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.write("purge_expired_logs is now prune_logs; this name keeps working.")
        super().handle(*args, **options)
