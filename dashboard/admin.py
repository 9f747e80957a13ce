"""Admin: the owner manages who belongs to which client here."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from dashboard.models import Membership

User = get_user_model()

# Logging in to admin goes through allauth's login, so its rate limits and the owner's
# two-factor apply: Django's own admin login form checks passwords without either.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fields = ["client", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "client", "created_at"]
    list_filter = ["client"]
    search_fields = ["user__email", "user__username", "client__slug", "client__name"]
    list_select_related = ["user", "client"]
    readonly_fields = ["created_at"]


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin with the user's client memberships inline."""

    inlines = [*DjangoUserAdmin.inlines, MembershipInline]
    list_display = ["email", "username", "is_staff", "is_active", "last_login"]
