"""Saving a user's notification settings (the row is created on the first save)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from dashboard.monitors.models import NotificationSettings


def notification_settings_update(
    *, user: AbstractBaseUser, alert_emails: bool, weekly_report: bool
) -> NotificationSettings:
    found, _ = NotificationSettings.objects.update_or_create(
        user=user, defaults={"alert_emails": alert_emails, "weekly_report": weekly_report}
    )
    return found
