"""Monitors' channels: how far webhooks may reach (links in mail start at SITE_URL, base.py)."""

from __future__ import annotations

from flusso_site.env import env_bool, env_int

# Webhooks may not reach loopback, private, link-local or otherwise non-public addresses
# (checked on the resolved address at delivery time) unless the operator allows it, e.g.
# for a receiver on the same private network.
ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("ALERT_WEBHOOK_ALLOW_PRIVATE", False)
# Seconds one webhook attempt has in all (connect, TLS, send, status line, headers, up to
# 1 KB of body; one deadline, capped at 60 s). Bounds how long one slow receiver can hold
# up a delivery run.
ALERT_WEBHOOK_TIMEOUT_SECONDS = env_int("ALERT_WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
