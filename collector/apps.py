from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _read_model_after_migrate(using: str = "default", verbosity: int = 1, **_: Any) -> None:
    """After migrate: the coming months' partitions, and the rollups of a database that
    holds logs but no rollups yet (an upgrade from before the read model)."""
    from django.utils import timezone

    from collector import partitions
    from collector.models import Rollup, WorkflowLog
    from collector.readmodel.writes import rollups_rebuild

    partitions.partitions_ensure(now=timezone.now())
    logs = WorkflowLog.objects.using(using)
    if not logs.exists() or Rollup.objects.using(using).exists():
        return
    client_ids = list(logs.order_by().values_list("client_id", flat=True).distinct())
    if verbosity:
        print(
            f"  Building the read model from the stored logs of {len(client_ids)} client(s); "
            "interrupting is safe, then run manage.py rebuild_rollups."
        )
    rollups_rebuild(client_ids=client_ids, using=using)


class CollectorConfig(AppConfig):
    name = "collector"
    verbose_name = "Collector"

    def ready(self) -> None:
        # Registers the OpenAPI description of the API key authentication, and the
        # collector's deploy checks.
        from collector import checks, openapi  # noqa: F401

        post_migrate.connect(_read_model_after_migrate, sender=self)
