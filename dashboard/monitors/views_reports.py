"""The weekly report as a page (a client's and the owner's), and the unsubscribe link.

Views parse the week, call one selector and render; a client's page is scoped by
``client_view`` like every client page.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from collector.models import Client
from dashboard.monitors.forms import ReportWeekForm
from dashboard.monitors.selectors.notifications import notification_settings_by_unsubscribe_token
from dashboard.monitors.selectors.reports import (
    WEEK,
    client_report,
    owner_report_all_clients_unscoped,
    week_is_over,
)
from dashboard.monitors.services.reports import (
    UnknownUnsubscribeToken,
    report_context,
    unsubscribe_weekly_report,
)
from dashboard.rendering import render_page
from dashboard.scoping import client_view
from flusso_site.routers import replica_reads


def _week_links(base: str, week: dt.date, now: dt.datetime) -> dict[str, str]:
    """Previous and next week; no next from the last complete week (the week in progress
    has no report yet)."""
    links = {"previous_url": f"{base}?week={(week - WEEK).isoformat()}"}
    if week_is_over(week + WEEK, now):
        links["next_url"] = f"{base}?week={(week + WEEK).isoformat()}"
    return links


@client_view
def client_report_page(request: HttpRequest, *, client: Client) -> HttpResponse:
    now = timezone.now()
    form = ReportWeekForm(request.GET, now=now)
    if not form.is_valid():
        return render_page(
            request, "dashboard/report.html", {"form": form}, client=client, status=400
        )
    report = client_report(client=client, week=form.cleaned_data["week"])
    base = reverse("dashboard:report", args=[client.slug])
    context = report_context(report) | _week_links(base, report.week, now)
    context |= {"form": form, "normalised_from": form.normalised_from, "kind": "client"}
    return render_page(request, "dashboard/report.html", context, client=client)


@login_required
def owner_report_page(request: HttpRequest) -> HttpResponse:
    """Every client's week: the owner's only (404 to anyone else, like a client they may
    not see). Who the user is is read from the primary (login_required), the report from
    the replica when there is one, as the owner's overview does."""
    if not request.user.is_staff:
        raise Http404("No such page.")
    return replica_reads(_owner_report)(request)


owner_report_page.reads_replica = True  # type: ignore[attr-defined]


def _owner_report(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    form = ReportWeekForm(request.GET, now=now)
    if not form.is_valid():
        return render_page(request, "dashboard/report.html", {"form": form}, status=400)
    report = owner_report_all_clients_unscoped(week=form.cleaned_data["week"])
    base = reverse("dashboard:owner_report")
    context = report_context(report) | _week_links(base, report.week, now)
    context |= {"form": form, "normalised_from": form.normalised_from, "kind": "owner"}
    return render_page(request, "dashboard/report.html", context)


# The link in every report mail, and the RFC 8058 one-click POST that mail clients send
# without a session or a CSRF token: the unguessable token in the URL is the credential
# (24 random bytes), so CSRF protection adds nothing here. GET only shows a confirmation
# (link scanners and previews follow GETs); POST unsubscribes. It writes: it reads the
# primary, never the replica (flusso_site/tests/test_routers.py lists it as such).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        try:
            unsubscribe_weekly_report(token=token)
        except UnknownUnsubscribeToken:
            raise Http404("Unknown unsubscribe link.") from None
        return render(request, "monitors/unsubscribe.html", {"done": True})
    if notification_settings_by_unsubscribe_token(token=token) is None:
        raise Http404("Unknown unsubscribe link.")
    return render(request, "monitors/unsubscribe.html", {"done": False, "token": token})
