"""Who may see which client's dashboards."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from collector.models import Client


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
