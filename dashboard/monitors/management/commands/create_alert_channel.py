"""``create_alert_channel SLUG|--owner --email ADDRESS``, or ``... --webhook URL [--secret S]
[--slack]``: where a client's (or every client's) alerts go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from collector.models import Client
from dashboard.monitors.models import ChannelKind
from dashboard.monitors.services.channels import alert_channel_create
from flusso_site.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Send a client's alerts (SLUG), or every client's (--owner), to an e-mail address "
        "(--email) or a webhook (--webhook URL, signed with --secret or a generated secret "
        "printed once; --slack for a Slack-compatible body)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", help="The client whose alerts go there.")
        parser.add_argument(
            "--owner", action="store_true", help="The owner's channel: every client's alerts."
        )
        parser.add_argument("--email", metavar="ADDRESS")
        parser.add_argument("--webhook", metavar="URL")
        parser.add_argument("--secret", help="Sign with this secret (default: a new one).")
        parser.add_argument("--slack", action="store_true", help="Send a Slack-compatible body.")

    def handle(self, *args: Any, **options: Any) -> None:
        slug, owner = options["slug"], options["owner"]
        if bool(slug) == owner:
            raise CommandError("Give a client's SLUG or --owner (one of them).")
        if (options["email"] is None) == (options["webhook"] is None):
            raise CommandError("Give --email ADDRESS or --webhook URL (one of them).")
        if options["email"] is not None and (options["secret"] is not None or options["slack"]):
            raise CommandError("--secret and --slack go with --webhook only.")
        client = None
        if slug:
            client = Client.objects.filter(slug=slug).first()
            if client is None:
                raise CommandError(f"No client has the slug {slug!r}.")
        try:
            channel = alert_channel_create(
                client=client,
                email=options["email"] or "",
                url=options["webhook"] or "",
                secret=options["secret"],
                slack=options["slack"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        whose = f"{client.name} ({client.slug})" if client else "the owner (every client)"
        if channel.kind == ChannelKind.EMAIL:
            self.stdout.write(
                self.style.SUCCESS(f"Channel {channel.pk}: alerts of {whose} to {channel.email}.")
            )
            return
        body = "Slack-compatible" if channel.slack else "JSON (version 1)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Channel {channel.pk}: alerts of {whose} to the webhook {channel.url} ({body})."
            )
        )
        if options["secret"] is None:
            self.stdout.write(
                f"Signing secret (shown once, keep it with the receiver): {channel.secret}"
            )
        else:
            self.stdout.write("Signed with the secret you gave.")
