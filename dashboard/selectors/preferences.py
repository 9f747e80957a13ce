"""A user's display preferences (the time zone every page shows times in)."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from dashboard.models import UserPreferences


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA zones this machine knows (zoneinfo): the only names a user may pick."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_is_valid(name: str) -> bool:
    if name not in time_zone_names():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def user_time_zone_choice(*, user: AbstractBaseUser | AnonymousUser) -> str:
    """The zone the user chose ("" for the service's default): one indexed query."""
    if not user.is_authenticated:
        return ""
    return (
        UserPreferences.objects.filter(user=user).values_list("time_zone", flat=True).first() or ""
    )


def user_time_zone(*, user: AbstractBaseUser | AnonymousUser) -> zoneinfo.ZoneInfo:
    """The zone the user's pages show times in: their choice, else settings.TIME_ZONE (also
    when a stored name is no longer known to this machine's tz database)."""
    name = user_time_zone_choice(user=user)
    if name and time_zone_is_valid(name):
        return zoneinfo.ZoneInfo(name)
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)
