"""``python -m shipper check`` and ``python -m shipper send [FILE...]``."""

from __future__ import annotations

import argparse
import json
import logging
import queue
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import requests

from ._version import __version__
from .client import Stats
from .config import Config
from .consumer import Consumer, Item, drain_file, encode
from .spool import Spool
from .transport import Transport

# Exit codes of ``check``, one per diagnosis.
OK = 0
NOT_CONFIGURED = 2
UNREACHABLE = 3
KEY_REJECTED = 4
CLIENT_MISMATCH = 5


def check(config: Config, out: TextIO) -> int:
    """Diagnose the configuration against the collector; print one plain verdict."""

    def say(line: str) -> None:
        print(line, file=out)

    if not config.enabled:
        say("NOT CONFIGURED: ENABLE_CENTRALIZED_LOGGING is off, so no log is shipped.")
        return NOT_CONFIGURED
    missing = [
        name
        for name, value in (
            ("LOG_COLLECTOR_URL", config.collector_url),
            ("LOG_COLLECTOR_API_KEY", config.api_key),
            ("CLIENT_ID", config.client_id),
        )
        if not value
    ]
    if missing:
        say(f"NOT CONFIGURED: {', '.join(missing)} not set.")
        return NOT_CONFIGURED
    urls = config.urls
    say(f"collector: {urls['base']}  (key {config.key_prefix}, client_id {config.client_id})")
    transport = Transport(config)
    try:
        try:
            status, body = transport.get_json("health", auth=False)
        except requests.RequestException as exc:
            say(f"UNREACHABLE: cannot reach {urls['health']} ({type(exc).__name__}).")
            return UNREACHABLE
        if status != 200:
            detail = body.get("database") if isinstance(body, dict) else None
            say(
                f"UNREACHABLE: {urls['health']} answered HTTP {status}"
                + (f" (database: {detail})" if detail else "")
                + "."
            )
            return UNREACHABLE
        if not (isinstance(body, dict) and body.get("status") == "ok"):
            say(
                f"UNREACHABLE: {urls['health']} answered, but it is not a Flusso collector; "
                "check LOG_COLLECTOR_URL."
            )
            return UNREACHABLE
        try:
            status, body = transport.get_json("whoami", auth=True)
        except requests.RequestException as exc:
            say(f"UNREACHABLE: cannot reach {urls['whoami']} ({type(exc).__name__}).")
            return UNREACHABLE
        if status in (401, 403):
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            say(
                f"KEY REJECTED: the collector answered HTTP {status}"
                + (f" ({code})" if code else "")
                + f" for key {config.key_prefix}; check LOG_COLLECTOR_API_KEY."
            )
            return KEY_REJECTED
        if status != 200 or not isinstance(body, dict):
            say(f"UNREACHABLE: {urls['whoami']} answered HTTP {status}.")
            return UNREACHABLE
        scopes = body.get("scopes")
        # Collectors before key scopes name none: every key of theirs could send logs.
        if isinstance(scopes, list) and "ingest" not in scopes:
            say(
                f"KEY REJECTED: key {config.key_prefix} may not send logs (its scopes: "
                f"{', '.join(map(str, scopes)) or 'none'}); use a key with the ingest scope."
            )
            return KEY_REJECTED
        key_client = body.get("client_id")
        if key_client != config.client_id:
            say(
                f"CLIENT MISMATCH: CLIENT_ID is {config.client_id!r} but the key belongs to "
                f"{key_client!r}; the collector would refuse every log."
            )
            return CLIENT_MISMATCH
    finally:
        transport.close()
    notes = []
    if not config.pii_salt:
        notes.append("LOG_PII_SALT is not set: PII hashes will not correlate across processes")
    if not config.spool_dir:
        notes.append("LOG_SPOOL_DIR is not set: logs are lost if the collector is down too long")
    for note in notes:
        say(f"warning: {note}")
    say(f"ALL GOOD: logs for {config.client_id!r} go to {urls['logs']}.")
    return OK


def _load(path: Path) -> list[Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("logs"), list):
        logs: list[Any] = data["logs"]
        return logs
    if isinstance(data, list):
        return data
    return [data]


def send(config: Config, files: Sequence[str], out: TextIO) -> int:
    """Ship the given log files synchronously, then drain the spool. Exit 0 if all went."""
    if not config.configured:
        print("NOT CONFIGURED: LOG_COLLECTOR_URL is not set (or logging is disabled).", file=out)
        return NOT_CONFIGURED
    spool = Spool(config.spool_dir, config.spool_max_bytes) if config.spool_dir else None
    stats = Stats()
    consumer = Consumer(config=config, q=queue.Queue(), stats=stats, spool=spool)
    failed = 0
    try:
        for name in files:
            try:
                docs = _load(Path(name))
            except (OSError, ValueError) as exc:
                print(f"{name}: unreadable ({type(exc).__name__})", file=out)
                failed += 1
                continue
            before = stats.snapshot()
            items: list[Item] = []
            for doc in docs:
                item = encode(doc, config)
                if item is None:
                    stats.add(rejected=1)
                else:
                    items.append(item)
            undelivered: list[Item] = []
            for start in range(0, len(items), config.batch_size):
                undelivered += consumer.deliver(
                    items[start : start + config.batch_size], config.max_retries
                )
            after = stats.snapshot()
            rejected = after["rejected"] - before["rejected"]
            delivered = after["sent"] - before["sent"]
            if undelivered:
                failed += 1
                print(f"{name}: {len(undelivered)} log(s) not delivered", file=out)
            elif rejected:
                # The collector refused them (or they are not logs): sending again will not
                # help, and the caller must hear about it.
                failed += 1
                print(f"{name}: {delivered} log(s) delivered, {rejected} rejected", file=out)
            else:
                print(f"{name}: {delivered} log(s) delivered", file=out)
        if spool is not None:
            for path in spool.files():
                if drain_file(consumer, path, max_retries=config.max_retries) is False:
                    failed += 1
                    print("spool: collector unavailable; the rest stays spooled", file=out)
                    break
            print(f"spool: {len(spool.files())} file(s) left in {spool.directory}", file=out)
    finally:
        consumer.transport.close()
    counts = stats.snapshot()
    print(
        "sent {sent} (duplicates {duplicates}), rejected {rejected}, from spool {unspooled}".format(
            **counts
        ),
        file=out,
    )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipper", description=__doc__)
    parser.add_argument("--version", action="version", version=f"shipper {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the shipper does")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="diagnose the configuration against the collector")
    send_parser = commands.add_parser("send", help="ship JSON log files and drain the spool")
    send_parser.add_argument("files", nargs="*", help="log documents (one, a list or {logs})")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    config = Config.from_env()
    if args.command == "check":
        return check(config, sys.stdout)
    return send(config, args.files, sys.stdout)
