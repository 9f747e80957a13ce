from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collector.keys import key_parse
from collector.selectors import api_key_get_by_prefix
from collector.services import api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the part after flk_), or by the whole key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        given: str = options["prefix"]
        parsed = key_parse(given)
        prefix = parsed.prefix if parsed else given.removeprefix("flk_").rstrip("_")
        api_key = api_key_get_by_prefix(prefix=prefix)
        if api_key is None:
            raise CommandError(f"No API key with the prefix {prefix!r}.")
        already = api_key.revoked_at is not None
        api_key_revoke(api_key=api_key)
        state = "was already revoked" if already else "is revoked"
        self.stdout.write(f"Key flk_{api_key.prefix}_… of {api_key.client.slug} {state}.")
