"""Admin for where alerts go (channels) and what was delivered (the read-only log).

A webhook's secret is never shown in full after it was created: the list and the form
show its first characters; creating a channel or rotating its secret shows the new one
once, in the confirmation message.

Whose alerts a channel gets (its client) is fixed once it has deliveries: moving it would
hand the queued and retried deliveries of one client's alerts to another client's
receiver (the send refuses those too, see services/deliveries.py). Make a new channel
instead.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from collector.admin import ReadOnlyAdmin
from dashboard.monitors.forms_channels import AlertChannelAdminForm
from dashboard.monitors.models import AlertChannel, ChannelKind, Delivery
from dashboard.monitors.services.channels import alert_channel_secret_rotate
from dashboard.monitors.services.deliveries import channel_webhook_post
from dashboard.monitors.webhooks import (
    PAYLOAD_VERSION,
    InvalidWebhookUrl,
    WebhookRefused,
    WebhookSendError,
    payload_body,
)

# How much of a secret the admin shows: enough to tell two apart, too little to sign.
SECRET_SHOWN = 4


def secret_masked(secret: str) -> str:
    return f"{secret[:SECRET_SHOWN]}…" if secret else ""


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    form = AlertChannelAdminForm
    list_display = [
        "__str__",
        "whose",
        "kind",
        "slack",
        "enabled",
        "masked_secret",
        "last_delivery",
        "created_at",
    ]
    list_filter = ["kind", "enabled", "slack", "client"]
    search_fields = ["email", "url", "client__slug", "client__name"]
    list_select_related = ["client"]
    readonly_fields = ["masked_secret", "created_at"]
    actions = ["rotate_secret", "send_test"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: AlertChannel | None = None
    ) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.deliveries.exists():
            fields.append("client")
        return fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AlertChannel]:
        latest = Delivery.objects.filter(channel=OuterRef("pk")).order_by("-pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(latest.values("status")[:1]),
                last_code=Subquery(latest.values("last_status_code")[:1]),
            )
        )

    @admin.display(description="Whose alerts", ordering="client__name")
    def whose(self, obj: AlertChannel) -> str:
        return obj.client.name if obj.client_id else "owner (every client)"

    @admin.display(description="Secret")
    def masked_secret(self, obj: AlertChannel) -> str:
        return secret_masked(obj.secret) if obj.kind == ChannelKind.WEBHOOK else "—"

    @admin.display(description="Last delivery")
    def last_delivery(self, obj: AlertChannel) -> str:
        status = getattr(obj, "last_status", None)
        if status is None:
            return "—"
        code = getattr(obj, "last_code", None)
        return f"{status} (HTTP {code})" if code else status

    def save_model(self, request: HttpRequest, obj: AlertChannel, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and obj.kind == ChannelKind.WEBHOOK:
            self.message_user(
                request,
                f"Signing secret of {obj.url} (shown once, give it to the receiver): {obj.secret}",
                messages.WARNING,
            )

    @admin.action(description="Rotate the signing secret (shown once)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[AlertChannel]) -> None:
        for channel in queryset.filter(kind=ChannelKind.WEBHOOK):
            secret = alert_channel_secret_rotate(channel=channel)
            self.message_user(
                request, f"New signing secret of {channel.url}: {secret}", messages.WARNING
            )

    @admin.action(description="Send a test notification")
    def send_test(self, request: HttpRequest, queryset: QuerySet[AlertChannel]) -> None:
        """A signed ``test`` event to each webhook, now, through the same SSRF guard."""
        for channel in queryset:
            if channel.kind != ChannelKind.WEBHOOK:
                self.message_user(
                    request, f"{channel}: tests are for webhooks only.", messages.INFO
                )
                continue
            message, level = _webhook_test(channel)
            self.message_user(request, f"{channel.url}: {message}", level)


def _webhook_test(channel: AlertChannel) -> tuple[str, int]:
    body = payload_body(
        {
            "version": PAYLOAD_VERSION,
            "event": "test",
            "event_at": timezone.now().isoformat(),
            "summary": "A test notification from Flusso.",
            "client": (
                {"slug": channel.client.slug, "name": channel.client.name}
                if channel.client_id
                else None
            ),
        }
    )
    try:
        answer = channel_webhook_post(channel=channel, body=body, event="test")
    except (InvalidWebhookUrl, WebhookRefused, WebhookSendError) as error:
        return error.message, messages.ERROR
    if answer.ok:
        return f"answered HTTP {answer.status}.", messages.SUCCESS
    return f"answered HTTP {answer.status}.", messages.ERROR


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: every notification, its attempts and its last answer."""

    list_display = [
        "pk",
        "event",
        "recipient",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "last_attempt_at",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "channel__kind", "event__kind"]
    search_fields = ["channel__url", "channel__email", "user__email", "event__alert__client__slug"]
    list_select_related = [
        "event__alert__client",
        "event__alert__monitor__client",
        "channel__client",
        "user",
    ]
    date_hierarchy = "next_attempt_at"

    @admin.display(description="To")
    def recipient(self, obj: Delivery) -> str:
        if obj.channel_id:
            return obj.channel.email or obj.channel.url
        return obj.user.email if obj.user else "a deleted user"
