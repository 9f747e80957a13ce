"""Seed demo data into an empty database; leave any other database alone."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.services import demo_seed


class Command(BaseCommand):
    help = (
        "On an empty database (no clients, users or logs), create two demo clients with "
        "~90 days of logs, an owner login, a client login and an API key, and print them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the service will answer, for the printed login and curl lines.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = options["base_url"].rstrip("/")
        # Stable hashes across runs of the demo; a real deployment sets its own secret salt.
        os.environ.setdefault("LOG_PII_SALT", "flusso-demo-seed")
        result = demo_seed()
        if not result.seeded:
            self.stdout.write(
                "seed_demo: the database already holds data; left it alone. "
                "To create an API key for a client: manage.py create_api_key SLUG"
            )
            return
        style = self.style
        self.stdout.write(style.SUCCESS(f"Demo data seeded: {result.logs} logs, two clients."))
        self.stdout.write("")
        self.stdout.write(f"Log in at {base_url}/accounts/login/ with:")
        for role, email, password in result.logins:
            self.stdout.write(f"  {role:<40} {email}  /  {password}")
        self.stdout.write("")
        self.stdout.write(f"API key for {result.client_slug} (shown once): {result.api_key}")
        self.stdout.write("Send a log:")
        self.stdout.write(
            f"  curl -X POST {base_url}/api/v1/logs -H 'Authorization: Bearer {result.api_key}' "
            "-H 'Content-Type: application/json' "
            '-d \'{"ticket_id": "1001", "status": "SUCCESS", "environment": "staging", '
            '"execution_time_seconds": 3.2, "metrics": {"overall_confidence": 0.9}}\''
        )
