from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collector.selectors import client_get_by_slug
from collector.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for a client and print it, alone on stdout, for scripts. "
        "It is shown only this once; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The client's slug (its CLIENT_ID).")
        parser.add_argument("--label", default="", help="What the key is for, e.g. 'prod-eu'.")

    def handle(self, *args: Any, **options: Any) -> None:
        client = client_get_by_slug(slug=options["slug"])
        if client is None:
            raise CommandError(f"No client with the slug {options['slug']!r}.")
        _, raw_key = api_key_create(client=client, label=options["label"])
        self.stdout.write(raw_key)
