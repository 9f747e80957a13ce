"""Account pages we close or guard, around allauth's.

- The e-mail management page is closed: users are managed by the owner (in admin), so a
  client user can neither attach someone else's address to their account nor make the
  service mail confirmation links to any address.
- Password reset refuses to run when mail is not configured: with DEBUG off and no
  EMAIL_HOST, a reset link would otherwise go to the console backend, i.e. the logs.
- ``REQUIRE_MFA_FOR_STAFF``: a staff user without an authenticator reaches only the
  account pages (where they set one up) until they have one.
- Notifications: each user chooses their alert e-mails (off by default) and the weekly
  report (on by default).
- Preferences: each user's time zone (default: the service's TIME_ZONE), which
  ``dashboard.middleware.UserTimeZoneMiddleware`` activates on every page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.account.views import PasswordResetView
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import checks
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.forms import TimeZoneForm
from dashboard.monitors.forms_channels import NotificationSettingsForm
from dashboard.monitors.selectors.notifications import notification_settings_get
from dashboard.monitors.services.notifications import notification_settings_update
from dashboard.selectors.preferences import user_time_zone_choice
from dashboard.services import user_preferences_update

# Backends that never deliver: what a deployment without EMAIL_HOST would use.
UNDELIVERED_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


def mail_is_configured() -> bool:
    """Whether mail reaches its recipients. In development (DEBUG) the console counts."""
    return settings.DEBUG or settings.EMAIL_BACKEND not in UNDELIVERED_BACKENDS


MAIL_NOT_CONFIGURED = (
    "E-mail is not configured on this server (EMAIL_HOST is not set), so no reset link "
    "can be sent. Ask your Flusso administrator to reset your password."
)


@checks.register(checks.Tags.security)
def check_mail_configured(**kwargs: Any) -> list[checks.CheckMessage]:
    if mail_is_configured():
        return []
    return [
        checks.Warning(
            "E-mail is not configured: password resets are refused.",
            hint="Set EMAIL_HOST (and EMAIL_HOST_USER, EMAIL_HOST_PASSWORD) to send mail.",
            id="flusso.W001",
        )
    ]


def email_management_closed(request: HttpRequest) -> HttpResponse:
    """allauth's /accounts/email/ for every method: nothing is added, changed or sent."""
    return render(request, "account/email_closed.html", status=403)


class MailAwarePasswordResetView(PasswordResetView):
    """allauth's reset page, which says so and sends nothing while mail is not configured."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if mail_is_configured():
            return super().dispatch(request, *args, **kwargs)
        status = 200 if request.method in ("GET", "HEAD") else 503
        return render(
            request,
            "account/password_reset.html",
            {"mail_not_configured": MAIL_NOT_CONFIGURED},
            status=status,
        )


password_reset = MailAwarePasswordResetView.as_view()


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    """The user's own mail: alert e-mails and the weekly report."""
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST)
        if form.is_valid():
            notification_settings_update(user=request.user, **form.cleaned_data)
            messages.success(request, "Your notification settings are saved.")
            return redirect("account_notifications")
    else:
        current = notification_settings_get(user=request.user)
        form = NotificationSettingsForm(
            initial={"alert_emails": current.alert_emails, "weekly_report": current.weekly_report}
        )
    return render(request, "account/notifications.html", {"form": form})


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """The user's own display settings: the time zone of every page."""
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            user_preferences_update(user=request.user, time_zone=form.cleaned_data["time_zone"])
            messages.success(request, "Your time zone is saved.")
            return redirect("account_preferences")
        status = 400
    else:
        form = TimeZoneForm(initial={"time_zone": user_time_zone_choice(user=request.user)})
        status = 200
    return render(request, "account/preferences.html", {"form": form}, status=status)


class StaffMfaRequiredMiddleware:
    """With REQUIRE_MFA_FOR_STAFF, staff without an authenticator may use only allauth's
    own pages (log out, reauthenticate, set up two-factor) until they have one.

    It runs on the resolved view (process_view), so what stays reachable is named by
    the code that serves it, not by a URL prefix a new route could fall under by chance.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not settings.REQUIRE_MFA_FOR_STAFF:
            return None
        user = request.user
        if not user.is_authenticated or not (user.is_staff or user.is_superuser):
            return None
        if getattr(view, "__module__", "").startswith("allauth."):
            return None
        if get_mfa_adapter().is_mfa_enabled(user):
            return None
        messages.warning(
            request,
            "Staff accounts must use two-factor authentication: set up an authenticator "
            "app to continue.",
        )
        return redirect("mfa_activate_totp")
