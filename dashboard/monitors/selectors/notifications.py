"""A user's notification settings, as they stand (defaults when never saved)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from dashboard.monitors.models import NotificationSettings


def notification_settings_get(*, user: AbstractBaseUser) -> NotificationSettings:
    """The user's settings; an unsaved row with the defaults (alert e-mails off, weekly
    report on) when they never saved any: the row is created on the first save."""
    found = NotificationSettings.objects.filter(user=user).first()
    return found if found is not None else NotificationSettings(user=user)
