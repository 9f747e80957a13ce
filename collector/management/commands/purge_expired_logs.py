from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from collector.services import logs_purge_expired


class Command(BaseCommand):
    help = "Delete logs older than their client's retention_days (run it daily, e.g. from cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = logs_purge_expired()
        self.stdout.write(f"Deleted {deleted} expired log(s).")
