"""Admin for clients, their keys and their logs.

A new key is shown in full exactly once, on the page that answers its creation; it is never
put in a message or a cookie, and only its hash is stored. Logs are read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from collector.models import ApiKey, ApiKeyEvent, ApiKeyEventSource, Client, WorkflowLog
from collector.selectors import ClientLogFigures, client_log_figures_unscoped
from collector.services import api_key_create, api_key_revoke


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "prefix_display",
        "label",
        "scopes_display",
        "created_at",
        "last_used_at",
        "expires_at",
        "state",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Key")
    def prefix_display(self, obj: ApiKey) -> str:
        return f"flk_{obj.prefix}_…"

    @admin.display(description="State")
    def state(self, obj: ApiKey) -> str:
        return _key_state(obj)

    @admin.display(description="Scopes")
    def scopes_display(self, obj: ApiKey) -> str:
        return _key_scopes(obj)


def _key_scopes(api_key: ApiKey) -> str:
    return ", ".join(api_key.scopes)


def _key_state(api_key: ApiKey) -> str:
    if api_key.revoked_at:
        return "revoked"
    if api_key.is_expired():
        return "expired"
    return "active"


class ClientChangeList(ChangeList):
    """The client list, with each listed client's log figures read once for the page."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        clients = list(self.result_list)
        figures = client_log_figures_unscoped(client_ids=[c.pk for c in clients])
        for client in clients:
            client.log_figures = figures.get(client.pk, ClientLogFigures())


def _add_key_url(client: Client) -> str:
    return reverse("admin:collector_apikey_add") + f"?client={client.pk}"


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "is_active",
        "log_count",
        "last_log",
        "dashboard",
        "retention_days",
        "created_at",
        "add_key",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    readonly_fields = ("created_at", "dashboard", "add_key")
    inlines = [ApiKeyInline]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ClientChangeList

    @admin.display(description="Logs")
    def log_count(self, obj: Client) -> str:
        # From the read model (ClientChangeList), never a COUNT(*) over the log table.
        return f"{obj.log_figures.logs:,}"

    @admin.display(description="Last log")
    def last_log(self, obj: Client) -> str:
        moment = obj.log_figures.last_log_at
        if moment is None:
            return "never"
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="Dashboard")
    def dashboard(self, obj: Client) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("dashboard:client", args=[obj.slug])
        return format_html('<a href="{}">Open the dashboard</a>', url)

    @admin.display(description="API keys")
    def add_key(self, obj: Client) -> str:
        if obj.pk is None:
            return "Save the client first."
        return format_html('<a href="{}">Create a key</a>', _add_key_url(obj))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "client",
        "label",
        "scopes_display",
        "created_at",
        "last_used_at",
        "expires_at",
        "state",
    )
    list_filter = ("client", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "label", "client__slug", "client__name")
    list_select_related = ("client",)
    actions = ["revoke_keys"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["client", "label", "expires_at", "scope_ingest", "scope_read"]
        return [
            "client",
            "label",
            "scopes_display",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        # A key's scopes are chosen once, when it is created (and recorded with it):
        # for other scopes, create another key and revoke this one.
        return [
            "client",
            "scopes_display",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    @admin.display(description="State")
    def state(self, obj: ApiKey) -> str:
        return _key_state(obj)

    @admin.display(description="Scopes")
    def scopes_display(self, obj: ApiKey) -> str:
        return _key_scopes(obj)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["label", "expires_at"])
            return
        api_key, raw_key = api_key_create(
            client=obj.client,
            label=obj.label,
            expires_at=obj.expires_at,
            scopes=obj.scopes,
            actor=request.user,
            source=ApiKeyEventSource.ADMIN,
        )
        # The form's instance becomes the created key, so the admin logs and links it.
        form.instance = api_key
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        request._flusso_new_key = raw_key  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None):
        raw_key = getattr(request, "_flusso_new_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "Your new API key",
            "api_key": obj,
            "raw_key": raw_key,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/collector/apikey/created.html", context)
        # The page holds a secret: never cache it anywhere.
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        now = timezone.now()
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            api_key_revoke(
                api_key=api_key, now=now, actor=request.user, source=ApiKeyEventSource.ADMIN
            )
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Keys are revoked, not deleted, so their use stays traceable.
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the service (logs, the key audit trail): shown, never edited."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiKeyEvent)
class ApiKeyEventAdmin(ReadOnlyAdmin):
    """The keys' audit trail: read-only, written only by the key services."""

    list_display = ("at", "kind", "key", "client_slug", "who", "ip")
    list_filter = ("kind", "source", "client_slug")
    search_fields = ("=key_prefix", "=client_slug")
    list_select_related = ("actor",)
    date_hierarchy = "at"

    @admin.display(description="Key", ordering="key_prefix")
    def key(self, obj: ApiKeyEvent) -> str:
        return f"flk_{obj.key_prefix}_…"

    @admin.display(description="Who")
    def who(self, obj: ApiKeyEvent) -> str:
        if obj.actor is not None:
            return str(obj.actor)
        if obj.source == ApiKeyEventSource.ADMIN:
            return "a deleted user"
        return obj.get_source_display()


@admin.register(WorkflowLog)
class WorkflowLogAdmin(ReadOnlyAdmin):
    list_display = (
        "timestamp",
        "client",
        "ticket_id",
        "status",
        "environment",
        "workflow_version",
        "overall_confidence",
        "error_type",
    )
    list_filter = ("client", "status", "environment", "timestamp")
    date_hierarchy = "timestamp"
    search_fields = ("=ticket_id",)
    list_select_related = ("client",)
    # Counting millions of rows on every page is the slow part of the changelist.
    show_full_result_count = False
    list_per_page = 50
