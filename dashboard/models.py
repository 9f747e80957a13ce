"""Who may see which client's dashboards."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from collector.models import Client, ClientScopedQuerySet


class Membership(models.Model):
    """A client user's access to one client. Owners (staff) need none: they see every client."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["client__name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="uniq_membership_user_client")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.client.slug}"


class UserPreferences(models.Model):
    """A user's own display settings. No row, or a blank field, means the service's default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    # An IANA zone name ("Europe/Paris"), checked against zoneinfo when saved and again
    # when used; blank: settings.TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'default time zone'}"


class SavedView(models.Model):
    """A named set of log viewer filters, shared by every user of the client.

    ``query`` is the filters' query string as the log viewer's form validated and
    normalised it (never what was sent as such); written only by
    ``dashboard.services_saved_views``.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True)
    # Kept when the author's account is deleted: the view stays shared, with no author.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="uniq_saved_view_client_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.client.slug})"
