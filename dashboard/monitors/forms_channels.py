"""Forms of the channels work: a user's notification settings, and the admin's channel form.

Kept apart from dashboard/forms.py (the dashboards' query-string filters) and from the
monitors' other forms so each piece's forms stay readable on their own.
"""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard.monitors.models import AlertChannel, ChannelKind
from dashboard.monitors.services.channels import (
    InvalidChannel,
    channel_email_check,
)
from dashboard.monitors.webhooks import InvalidWebhookUrl, webhook_url_check


class NotificationSettingsForm(forms.Form):
    alert_emails = forms.BooleanField(
        required=False,
        label="Alert e-mails",
        help_text="An e-mail when an alert of your client's workflow opens or resolves.",
    )
    weekly_report = forms.BooleanField(
        required=False,
        label="Weekly report",
        help_text="Monday's summary of last week: runs, rates, errors, alerts, versions.",
    )


class AlertChannelAdminForm(forms.ModelForm):
    """The channel form in admin: the address checked like the command checks it; the
    secret is not a field (generated on creation, shown once, rotated by an action)."""

    url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL",
        help_text="http:// or https://, no user name or password in it.",
    )

    class Meta:
        model = AlertChannel
        fields = ["client", "kind", "email", "url", "slack", "enabled"]

    def clean_url(self) -> str:
        url = self.cleaned_data.get("url") or ""
        if not url:
            return ""
        try:
            return webhook_url_check(url)
        except InvalidWebhookUrl as error:
            raise forms.ValidationError(error.message) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, email, url = data.get("kind"), data.get("email"), data.get("url")
        if kind == ChannelKind.EMAIL:
            if not email:
                self.add_error("email", "An e-mail channel needs an address.")
            else:
                try:
                    data["email"] = channel_email_check(email)
                except InvalidChannel as error:
                    self.add_error("email", error.message)
            if url:
                self.add_error("url", "An e-mail channel has no webhook URL.")
            if data.get("slack"):
                self.add_error("slack", "Slack mode is for webhooks.")
        elif kind == ChannelKind.WEBHOOK:
            if not url and "url" not in self.errors:
                self.add_error("url", "A webhook channel needs a URL.")
            if email:
                self.add_error("email", "A webhook channel has no e-mail address.")
        return data
