"""Saving a user's notification settings (the row is created on the first save, or when a
mail needs its unsubscribe token)."""

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


def notification_settings_ensure(*, user: AbstractBaseUser) -> NotificationSettings:
    """The user's settings row, made with the defaults when they have none yet (a weekly
    report's unsubscribe link needs its token)."""
    found, _ = NotificationSettings.objects.get_or_create(user=user)
    return found
