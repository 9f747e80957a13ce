"""Seed demo data into an empty database; leave any other database alone."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.demo import demo_seed


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
        self.stdout.write(
            style.SUCCESS(
                f"Demo data seeded: {result.logs} logs, two clients, "
                f"{result.verdicts} verdicts on the first client's runs."
            )
        )
        self.stdout.write("")
        self.stdout.write(f"Log in at {base_url}/accounts/login/ with:")
        for role, email, password in result.logins:
            self.stdout.write(f"  {role:<40} {email}  /  {password}")
        self.stdout.write("")
        self.stdout.write(f"API key for {result.client_slug} (shown once): {result.api_key}")
        # A log_id of its own: sending the line twice answers "duplicate" the second time
        # instead of storing the run twice.
        log_id = str(uuid.uuid4())
        document = {
            "log_id": log_id,
            "ticket_id": "1001",
            "status": "SUCCESS",
            "environment": "staging",
            "execution_time_seconds": 3.2,
            "metrics": {"overall_confidence": 0.9},
        }
        auth = f"-H 'Authorization: Bearer {result.api_key}'"
        self.stdout.write("Send a log (twice: the second answer is 'duplicate'):")
        self.stdout.write(
            f"  curl -X POST {base_url}/api/v1/logs {auth} "
            f"-H 'Content-Type: application/json' -d '{json.dumps(document)}'"
        )
        self.stdout.write("Read it back, and the dashboard's figures for the last 7 days:")
        self.stdout.write(f"  curl {base_url}/api/v1/logs/{log_id} {auth}")
        self.stdout.write(f"  curl '{base_url}/api/v1/stats?period=7d' {auth}")
