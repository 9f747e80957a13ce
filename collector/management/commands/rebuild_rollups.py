from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from collector.log_dependents import log_dependents
from collector.models import Client
from collector.readmodel.writes import rollups_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the read model (rollups) from the raw logs, for every client or one: after "
        "an upgrade of a database that already holds logs, or to repair. Works one UTC day "
        "per transaction and is safe while ingestion runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", metavar="SLUG", help="Only this client.")
        parser.add_argument(
            "--days-per-chunk", type=int, default=1, help="UTC days per transaction."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        clients = Client.objects.order_by("slug")
        if options["client"]:
            clients = clients.filter(slug=options["client"])
            if not clients.exists():
                raise CommandError(f"No client with the slug {options['client']!r}.")
        client_ids = list(clients.values_list("id", flat=True))
        bar = tqdm(total=0, unit="log", file=self.stderr, disable=options["verbosity"] == 0)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        counted = rollups_rebuild(
            client_ids=client_ids,
            days_per_chunk=max(1, options["days_per_chunk"]),
            progress=progress,
        )
        bar.close()
        # What other apps count about the logs too (the verdicts of dashboard.reviews).
        others = "".join(
            f" and {dependent.rebuild(client_ids=client_ids)} {dependent.noun}"
            for dependent in log_dependents()
        )
        self.stdout.write(
            f"Rebuilt the rollups of {len(client_ids)} client(s) from {counted} log(s){others}."
        )
