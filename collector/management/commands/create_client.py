from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collector.services import client_create
from flusso_site.errors import ApplicationError


class Command(BaseCommand):
    help = "Create a client. SLUG is the CLIENT_ID its deployments send."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--retention-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client = client_create(
                slug=options["slug"], name=options["name"], retention_days=options["retention_days"]
            )
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from None
        self.stdout.write(f"Created client {client.slug} ({client.name}).")
