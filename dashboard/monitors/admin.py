"""Admin: the owner tunes, mutes or turns off monitors, adds threshold ones, and reads or
resolves alerts. Alerts change state only through services.alerts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from dashboard.monitors.models import Alert, AlertEvent, AlertState, Monitor, MonitorKind
from dashboard.monitors.services.alerts import alert_resolve


class MonitorForm(forms.ModelForm):
    class Meta:
        model = Monitor
        fields = [
            "client",
            "metric",
            "kind",
            "environment",
            "window_minutes",
            "comparison",
            "threshold",
            "sensitivity",
            "min_samples",
            "cooldown_minutes",
            "enabled",
            "muted_until",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if data.get("window_minutes") is not None and data["window_minutes"] <= 0:
            self.add_error("window_minutes", "The window must be at least one minute.")
        if kind == MonitorKind.THRESHOLD:
            if not data.get("comparison"):
                self.add_error("comparison", "A threshold monitor needs a comparison.")
            if data.get("threshold") is None:
                self.add_error("threshold", "A threshold monitor needs a threshold.")
        elif kind == MonitorKind.BASELINE:
            if data.get("comparison"):
                self.add_error("comparison", "Only threshold monitors have a comparison.")
            if data.get("threshold") is not None:
                self.add_error("threshold", "Only threshold monitors have a threshold.")
        return data


class MutedFilter(admin.SimpleListFilter):
    title = "muted"
    parameter_name = "muted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "muted now"), ("no", "not muted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Monitor]) -> QuerySet[Monitor]:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(muted_until__gt=now)
        if self.value() == "no":
            return queryset.exclude(muted_until__gt=now)
        return queryset


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    form = MonitorForm
    list_display = [
        "client",
        "metric",
        "kind",
        "environment",
        "window_minutes",
        "sensitivity",
        "min_samples",
        "cooldown_minutes",
        "enabled",
        "muted_until",
        "is_default",
    ]
    list_editable = ["sensitivity", "min_samples", "cooldown_minutes", "enabled", "muted_until"]
    list_filter = [
        "enabled",
        MutedFilter,
        "kind",
        "metric",
        "window_minutes",
        "is_default",
        "client",
    ]
    search_fields = ["client__slug", "client__name"]
    list_select_related = ["client"]
    readonly_fields = ["is_default", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A default monitor's identity is fixed (the defaults would make it again);
        # its tuning, muting and switch are the owner's.
        fields = list(self.readonly_fields)
        if obj is not None and obj.is_default:
            fields += ["client", "metric", "kind", "environment", "window_minutes"]
        return fields


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    fields = ["kind", "at", "by", "fanned_out_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "opened_at",
        "client",
        "metric",
        "environment",
        "state",
        "value",
        "baseline_median",
        "resolved_at",
    ]
    list_filter = ["state", "metric", "client"]
    search_fields = ["client__slug", "client__name"]
    list_select_related = ["client"]
    date_hierarchy = "opened_at"
    inlines = [AlertEventInline]
    actions = ["resolve_by_hand"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Resolve by hand (records you as who resolved them)")
    def resolve_by_hand(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        count = 0
        for alert in queryset.exclude(state=AlertState.RESOLVED):
            alert_resolve(alert=alert, user=request.user)
            count += 1
        self.message_user(request, f"{count} alerts resolved.", messages.SUCCESS)


# The channels' and deliveries' admin (dashboard.monitors.admin_channels) registers itself.
from dashboard.monitors import admin_channels  # noqa: E402, F401
