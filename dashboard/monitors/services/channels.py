"""Alert channels: created (by the command or admin) with a checked address, and their
webhook secrets rotated."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from collector.models import Client
from dashboard.monitors.models import AlertChannel, ChannelKind
from dashboard.monitors.webhooks import webhook_url_check
from flusso_site.errors import ApplicationError

# A secret given by the operator signs like a generated one (token_urlsafe(32): 43
# characters); shorter than this it could be guessed.
SECRET_MIN_LENGTH = 16
SECRET_MAX_LENGTH = 128  # AlertChannel.secret's max_length


class InvalidChannel(ApplicationError):
    """The channel cannot be created as asked; nothing was."""


def channel_email_check(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidChannel(f"{email!r} is not a valid e-mail address.", code="email") from None
    return email


def channel_secret_check(secret: str) -> str:
    if not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH:
        raise InvalidChannel(
            f"A webhook secret has {SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} characters.",
            code="secret",
        )
    if any(ch.isspace() for ch in secret):
        raise InvalidChannel("A webhook secret may not contain spaces.", code="secret")
    return secret


def alert_channel_create(
    *,
    client: Client | None,
    email: str = "",
    url: str = "",
    secret: str | None = None,
    slack: bool = False,
) -> AlertChannel:
    """An e-mail channel (``email``) or a webhook (``url``, optional ``secret``, ``slack``)
    for the client's alerts, or with no client the owner's (every client's alerts).

    A webhook's secret is generated when not given. InvalidChannel when the request does
    not make one valid channel (both or neither address, a bad address, webhook options
    on an e-mail channel).
    """
    if bool(email) == bool(url):
        raise InvalidChannel("Give either an e-mail address or a webhook URL.", code="kind")
    if email:
        if secret is not None or slack:
            raise InvalidChannel(
                "A secret and Slack mode are for webhooks, not e-mail channels.", code="kind"
            )
        return AlertChannel.objects.create(
            client=client, kind=ChannelKind.EMAIL, email=channel_email_check(email)
        )
    url = webhook_url_check(url)
    secret = channel_secret_check(secret) if secret is not None else secrets.token_urlsafe(32)
    return AlertChannel.objects.create(
        client=client, kind=ChannelKind.WEBHOOK, url=url, secret=secret, slack=slack
    )


def alert_channel_secret_rotate(*, channel: AlertChannel) -> str:
    """A new secret for the webhook (the old one stops verifying at once); returned once."""
    channel.secret = secrets.token_urlsafe(32)
    channel.save(update_fields=["secret"])
    return channel.secret
