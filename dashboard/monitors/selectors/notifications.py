"""A user's notification settings, as they stand (defaults when never saved)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from dashboard.monitors.converters import is_unsubscribe_token
from dashboard.monitors.models import NotificationSettings


def notification_settings_get(*, user: AbstractBaseUser) -> NotificationSettings:
    """The user's settings; an unsaved row with the defaults (alert e-mails off, weekly
    report on) when they never saved any: the row is created on the first save."""
    found = NotificationSettings.objects.filter(user=user).first()
    return found if found is not None else NotificationSettings(user=user)


def notification_settings_by_unsubscribe_token(*, token: str) -> NotificationSettings | None:
    """Whose unsubscribe link this is; None for a token nobody has, or text that cannot be
    a token at all (checked before the query: PostgreSQL refuses a NUL byte in one)."""
    if not is_unsubscribe_token(token):
        return None
    return NotificationSettings.objects.filter(unsubscribe_token=token).first()
