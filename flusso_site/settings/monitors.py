"""Monitors' channels: where alert links point, and how far webhooks may reach."""

from __future__ import annotations

from flusso_site.env import env_bool, env_int, env_str

# The address people open Flusso at, for links in e-mails and webhook payloads (a mail or
# a Slack message has no request to build an absolute URL from). No trailing slash.
FLUSSO_BASE_URL = env_str("FLUSSO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# Webhooks may not reach loopback, private, link-local or otherwise non-public addresses
# (checked on the resolved address at delivery time) unless the operator allows it, e.g.
# for a receiver on the same private network.
ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERT_WEBHOOK_ALLOW_PRIVATE", False)
# Seconds a webhook receiver has to connect and to answer each read (connect, headers,
# body). Bounds how long one slow receiver can hold up a delivery run.
ALERT_WEBHOOK_TIMEOUT_SECONDS = env_int("ALERT_WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
