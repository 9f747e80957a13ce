"""Create a dashboard login: ``create_user EMAIL [--client SLUG]... [--owner] [--password PW]``."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.services import user_create
from flusso_site.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create a user who logs in with EMAIL: an owner (--owner: staff, sees every client "
        "and the admin) or a member of one or more clients (--client SLUG, repeatable). "
        "Without --password it prompts, or reads one line from standard input when that "
        "is not a terminal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--client", action="append", default=[], dest="clients", metavar="SLUG")
        parser.add_argument("--owner", action="store_true")
        parser.add_argument("--password")

    def _password(self) -> str:
        stdin = sys.stdin
        if stdin is None or not stdin.isatty():
            password = (stdin.readline() if stdin else "").rstrip("\r\n")
            if not password:
                raise CommandError("No password on standard input.")
            return password
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        return first

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["clients"] and not options["owner"]:
            raise CommandError("Give --client SLUG (one or more) or --owner.")
        password = options["password"]
        if password is None:
            password = self._password()
        try:
            user = user_create(
                email=options["email"],
                password=password,
                client_slugs=options["clients"],
                is_owner=options["owner"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        role = "owner" if user.is_staff else "member of " + ", ".join(options["clients"])
        self.stdout.write(self.style.SUCCESS(f"Created {user.email} ({role})."))
