"""Telling channels and opted-in users about alert events.

``deliveries_run(now=...)`` does two things, each safe to repeat:

1. Fan-out. Every ``opened`` or ``resolved`` AlertEvent not yet fanned out gets one
   Delivery per recipient, and ``fanned_out_at``, in one transaction (the unique
   constraints on Delivery make a second fan-out a no-op). Recipients: the client's
   enabled channels, the owner's enabled channels (no client: every client's alerts), and
   the users who opted in to alert e-mails (NotificationSettings.alert_emails) among the
   client's members (active users, active client) and the owners (active staff).
   Nobody is told when the monitor was disabled, or muted at the event's time; nor of a
   resolution whose opening was told to nobody. Acknowledgements are not notified.
2. Sending. Every pending delivery that is due is claimed (so two runs never send it
   twice), sent, and recorded: sent on success; otherwise retried with backoff
   (RETRY_DELAYS) until MAX_ATTEMPTS, then failed. A webhook refused by the SSRF rule or
   with a malformed URL fails at once: retrying cannot help; so does a delivery whose
   channel was moved to another client after it was queued.

``now`` (``monitors_run --now``, a replay) only decides which events exist: those at or
before it are fanned out. Everything about sending runs on the real clock
(``timezone.now()``): which deliveries are due, the claim lease, the retry backoff, and
the recorded fan-out, attempt and sent times. So a replay of a past moment neither skips
the backoff nor hands a concurrent live run an already-expired lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.monitors.messages import WEBHOOK_EVENTS, event_summary
from dashboard.monitors.models import (
    AlertChannel,
    AlertEvent,
    AlertEventKind,
    ChannelKind,
    Delivery,
    DeliveryStatus,
)
from dashboard.monitors.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    InvalidWebhookUrl,
    WebhookAnswer,
    WebhookPrivateAddress,
    WebhookRefused,
    WebhookSendError,
    alert_payload,
    payload_body,
    slack_payload,
    webhook_post,
    webhook_signature,
)

logger = logging.getLogger(__name__)

# The wait after each failed attempt (the 1st, 2nd, ...): 1, 4, 16, 64, 256 minutes, then
# capped at 8 hours; 8 attempts in all, the last about 22 hours after the first, so a
# receiver down for a night still gets the alert and one gone for good stops being tried.
RETRY_DELAYS = tuple(dt.timedelta(minutes=minutes) for minutes in (1, 4, 16, 64, 256, 480, 480))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Bounds on one run (cron runs every minute; what is left waits for the next run):
# at most this many deliveries, and no new send started after this many seconds, so a
# queue of slow receivers cannot keep a run from ending. One webhook attempt (connect,
# send, read the answer) has ALERT_WEBHOOK_TIMEOUT_SECONDS in all, capped here at
# ATTEMPT_MAX_SECONDS, so a run ends within RUN_BUDGET_SECONDS + ATTEMPT_MAX_SECONDS.
SEND_BATCH = 200
RUN_BUDGET_SECONDS = 45.0
ATTEMPT_MAX_SECONDS = 60.0
# A claimed delivery is not due again until this has passed: if the process dies while
# sending, another run retries it then (at least once, never twice at the same time).
# Far longer than one attempt can take, so a live attempt's lease never runs out.
CLAIM_LEASE = dt.timedelta(minutes=5)
assert dt.timedelta(seconds=ATTEMPT_MAX_SECONDS) * 2 < CLAIM_LEASE
# Delivery.last_error's max_length; receivers' answers are cut well before it.
ERROR_LENGTH = 500
ANSWER_EXCERPT = 200

NOTIFIED_KINDS = (AlertEventKind.OPENED, AlertEventKind.RESOLVED)


def deliveries_run(*, now: dt.datetime | None = None) -> int:
    """Fan out the alert events up to ``now`` (default: the real clock), then send what is
    due by the real clock; how many were sent."""
    deliveries_fan_out(now=now or timezone.now())
    return deliveries_send_due()


# --- Fan-out ------------------------------------------------------------------------


def deliveries_fan_out(*, now: dt.datetime) -> int:
    """Queue deliveries for every opened/resolved event not fanned out yet (up to ``now``,
    the events that exist; the rows' times are the real clock's); how many were queued."""
    pending = (
        AlertEvent.objects.filter(kind__in=NOTIFIED_KINDS, fanned_out_at__isnull=True, at__lte=now)
        .order_by("at", "pk")
        .values_list("pk", flat=True)
    )
    return sum(_event_fan_out(event_id=event_id) for event_id in list(pending))


def _event_fan_out(*, event_id: int) -> int:
    with transaction.atomic():
        event = (
            AlertEvent.objects.select_for_update(of=("self",))
            .select_related("alert__monitor", "alert__client")
            .filter(pk=event_id, fanned_out_at__isnull=True)
            .first()
        )
        if event is None:  # another run fanned it out first
            return 0
        now = timezone.now()
        reason = _silenced_because(event)
        rows = [] if reason else _deliveries_for(event, now=now)
        if reason:
            logger.info("alert event %s fanned out with no deliveries: %s", event.pk, reason)
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        event.fanned_out_at = now
        event.save(update_fields=["fanned_out_at"])
    return len(rows)


def _silenced_because(event: AlertEvent) -> str:
    """Why nobody is told of this event ("" when they are)."""
    monitor = event.alert.monitor
    if not monitor.enabled:
        return "the monitor is disabled"
    if monitor.muted_until is not None and monitor.muted_until > event.at:
        return f"the monitor was muted until {monitor.muted_until.isoformat()}"
    if event.kind == AlertEventKind.RESOLVED:
        told_of_opening = Delivery.objects.filter(
            event__alert_id=event.alert_id, event__kind=AlertEventKind.OPENED
        ).exists()
        if not told_of_opening:
            return "nobody was told the alert opened"
    return ""


def alert_channels_for(event: AlertEvent) -> list[AlertChannel]:
    """The enabled channels told of this event: its client's and the owner's."""
    return list(
        AlertChannel.objects.filter(enabled=True)
        .filter(Q(client_id=event.alert.client_id) | Q(client__isnull=True))
        .order_by("pk")
    )


def alert_email_users_for(event: AlertEvent) -> QuerySet:
    """The active users who opted in to alert e-mails and may see the alert's client:
    its members (while the client is active, as its pages are) and the owners (staff)."""
    client = event.alert.client
    may_see = Q(is_staff=True)
    if client.is_active:
        may_see |= Q(memberships__client_id=client.pk)
    return (
        get_user_model()
        .objects.filter(is_active=True, notification_settings__alert_emails=True)
        .exclude(email="")
        .filter(may_see)
        .distinct()
        .order_by("pk")
    )


def _deliveries_for(event: AlertEvent, *, now: dt.datetime) -> list[Delivery]:
    channels = alert_channels_for(event)
    rows = [Delivery(event=event, channel=channel, next_attempt_at=now) for channel in channels]
    # One mail per address: a user whose address is already an e-mail channel's is not
    # mailed a second copy.
    addresses = {c.email.lower() for c in channels if c.kind == ChannelKind.EMAIL and c.email}
    rows += [
        Delivery(event=event, user=user, next_attempt_at=now)
        for user in alert_email_users_for(event)
        if user.email.lower() not in addresses
    ]
    return rows


# --- Sending ------------------------------------------------------------------------


class _Permanent(Exception):
    """A failure retrying cannot cure: the delivery fails at once."""


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None = None
    error: str = ""


def deliveries_send_due() -> int:
    """Send the deliveries due by the real clock (bounded per run); how many were sent."""
    started = time.monotonic()
    due = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SEND_BATCH]
    )
    sent = 0
    for delivery_id in due:
        if time.monotonic() - started > RUN_BUDGET_SECONDS:
            logger.warning("delivery run out of time; %s left for the next run", len(due) - sent)
            break
        delivery = _claim(delivery_id=delivery_id)
        if delivery is not None and delivery_send(delivery=delivery):
            sent += 1
    return sent


def _claim(*, delivery_id: int) -> Delivery | None:
    """Take the delivery for this run (one conditional UPDATE), or None if another run did."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=now + CLAIM_LEASE)
    if not claimed:
        return None
    return Delivery.objects.select_related(
        "event__alert__client", "event__alert__monitor", "channel", "user"
    ).get(pk=delivery_id)


def delivery_send(*, delivery: Delivery) -> bool:
    """One attempt at a claimed delivery, recorded (times by the real clock); whether it
    was sent."""
    secret = delivery.channel.secret if delivery.channel_id else ""
    permanent = False
    try:
        outcome = _attempt(delivery)
    except _Permanent as error:
        outcome, permanent = _Outcome(error=str(error)), True
    except Exception as error:  # one broken delivery must not stop the others
        logger.exception("delivery %s failed unexpectedly", delivery.pk)
        outcome = _Outcome(error=f"internal error: {type(error).__name__}")
    now = timezone.now()  # after the attempt: the backoff counts from its end
    delivery.last_status_code = outcome.status_code
    delivery.last_error = _clean(outcome.error, secret=secret)
    if not outcome.error:
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = now
    elif permanent or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
    delivery.save(
        update_fields=["status", "sent_at", "next_attempt_at", "last_status_code", "last_error"]
    )
    if delivery.status == DeliveryStatus.FAILED:
        logger.warning("delivery %s failed: %s", delivery.pk, delivery.last_error)
    return delivery.status == DeliveryStatus.SENT


def _clean(text: str, *, secret: str) -> str:
    if secret:
        text = text.replace(secret, "[secret]")
    return text[:ERROR_LENGTH]


def _attempt(delivery: Delivery) -> _Outcome:
    channel = delivery.channel
    if channel is None:
        return _user_email(delivery)
    if not channel.enabled:
        raise _Permanent("The channel was disabled before this was sent.")
    alert_client_id = delivery.event.alert.client_id
    if channel.client_id is not None and channel.client_id != alert_client_id:
        # Moved to another client (admin) after this was queued: that client must not
        # be told of this one's alert.
        raise _Permanent(
            "Not sent: the channel now belongs to another client than the alert's "
            f"(channel client id {channel.client_id}, alert client id {alert_client_id})."
        )
    if channel.kind == ChannelKind.EMAIL:
        if not channel.email:
            raise _Permanent("The channel has no e-mail address.")
        return _email(delivery, to=channel.email, personal=False)
    return _webhook(delivery, channel)


def _user_email(delivery: Delivery) -> _Outcome:
    """Mail a user, if they still may and still want to be (checked again now: a revoked
    membership between fan-out and sending must not let the mail through)."""
    user = delivery.user
    if user is None:
        raise _Permanent("The user was deleted.")
    if not alert_email_users_for(delivery.event).filter(pk=user.pk).exists():
        raise _Permanent("The user no longer receives this client's alert e-mails.")
    return _email(delivery, to=user.email, personal=True)


def _email(delivery: Delivery, *, to: str, personal: bool) -> _Outcome:
    event = delivery.event
    summary = event_summary(event)
    context = {
        "summary": summary,
        "event": event,
        "alert": event.alert,
        "personal": personal,
        "settings_url": f"{settings.SITE_URL}/accounts/notifications/",
    }
    message = EmailMultiAlternatives(
        # One line whatever the client's name holds: a header may not break.
        subject=" ".join(f"[Flusso] {summary.headline}".split()),
        body=render_to_string("monitors/email/alert.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string("monitors/email/alert.html", context), "text/html")
    try:
        message.send()
    except OSError as error:  # smtplib's errors are OSErrors: the server may be back later
        return _Outcome(error=f"mail not sent: {type(error).__name__}: {error}")
    return _Outcome()


def webhook_timeout() -> float:
    """Seconds one webhook attempt has in all (ALERT_WEBHOOK_TIMEOUT_SECONDS, capped so an
    attempt always ends long before its claim lease)."""
    return min(float(settings.ALERT_WEBHOOK_TIMEOUT_SECONDS), ATTEMPT_MAX_SECONDS)


def channel_webhook_post(
    *, channel: AlertChannel, body: bytes, event: str, headers: dict[str, str] | None = None
) -> WebhookAnswer:
    """POST a body to the channel's webhook, signed with its secret, through the SSRF guard
    and within one attempt's deadline (deliveries and the admin's test send alike)."""
    signed = {SIGNATURE_HEADER: webhook_signature(channel.secret, body), EVENT_HEADER: event}
    return webhook_post(
        channel.url,
        body,
        signed | (headers or {}),
        allow_private=settings.ALERT_WEBHOOK_ALLOW_PRIVATE,
        timeout=webhook_timeout(),
    )


def _webhook(delivery: Delivery, channel: AlertChannel) -> _Outcome:
    event = delivery.event
    payload = slack_payload(event) if channel.slack else alert_payload(event)
    try:
        answer = channel_webhook_post(
            channel=channel,
            body=payload_body(payload),
            event=WEBHOOK_EVENTS[AlertEventKind(event.kind)],
            headers={DELIVERY_HEADER: str(delivery.pk)},
        )
    except (InvalidWebhookUrl, WebhookPrivateAddress) as error:
        raise _Permanent(error.message) from None
    except WebhookRefused as error:
        return _Outcome(error=error.message)  # DNS may answer next time
    except WebhookSendError as error:
        return _Outcome(error=error.message)
    if answer.ok:
        return _Outcome(status_code=answer.status)
    excerpt = answer.body[:ANSWER_EXCERPT].decode("utf-8", "replace").strip()
    error = f"HTTP {answer.status}"
    if 300 <= answer.status < 400:
        error += f" (redirect to {answer.location[:ANSWER_EXCERPT]} not followed)"
    if excerpt:
        error += f": {excerpt}"
    return _Outcome(status_code=answer.status, error=error)
