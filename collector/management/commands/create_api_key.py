from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collector.models import ApiKeyScope
from collector.selectors import client_get_by_slug
from collector.services import api_key_create, api_key_scopes_parse
from flusso_site.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create an API key for a client and print it, alone on stdout, for scripts. "
        "It is shown only this once; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The client's slug (its CLIENT_ID).")
        parser.add_argument("--label", default="", help="What the key is for, e.g. 'prod-eu'.")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            metavar="SCOPE",
            help=(
                f"What the key may do: {', '.join(ApiKeyScope.values)}; repeat it or join "
                "with commas (--scope ingest,read). Default: ingest."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scopes = api_key_scopes_parse(options["scopes"] or [ApiKeyScope.INGEST])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        client = client_get_by_slug(slug=options["slug"])
        if client is None:
            raise CommandError(f"No client with the slug {options['slug']!r}.")
        _, raw_key = api_key_create(client=client, label=options["label"], scopes=scopes)
        self.stdout.write(raw_key)
