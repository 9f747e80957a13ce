"""The alerts page and its two actions, acknowledge and resolve.

Each view is wrapped by ``scoping.client_view`` (the client comes from the URL and the
logged-in user, 404 otherwise) and reaches the alert through that client, so an alert id
of another client answers 404 exactly like an unknown one. Client users and the owner may
both act; the services record who and when, once.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from collector.models import Client
from dashboard import charts
from dashboard.monitors.selectors.alerts import alert_get, alert_page
from dashboard.monitors.services.alerts import alert_acknowledge, alert_resolve
from dashboard.rendering import render_page
from dashboard.scoping import client_view
from flusso_site.errors import ApplicationError
from flusso_site.routers import reading_from_primary


@client_view
def alert_list(request: HttpRequest, *, client: Client) -> HttpResponse:
    page = alert_page(
        client=client,
        page=request.GET.get("page") or 1,
        viewer_is_staff=request.user.is_staff,
    )
    context = {
        "alert_page": page,
        "rows": [
            (row, charts.to_div(charts.alert_figure(row.chart)) if row.chart else "")
            for row in page.rows
        ],
    }
    return render_page(request, "dashboard/alerts.html", context, client=client)


def _back(request: HttpRequest, client: Client) -> HttpResponse:
    """Back to the page the button was on (the alerts page, at its page number)."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not target.startswith(reverse("dashboard:alerts", args=[client.slug])):
        target = reverse("dashboard:alerts", args=[client.slug])
    return redirect(target)


# Actions change the alert: POST only (with the CSRF token), never a link a crawler or a
# mail client's prefetch could follow, and the alert is read from the primary they write.
# The scoping decorator runs first, so another client's user gets 404 even for a GET.
@client_view
@require_POST
def alert_acknowledge_view(request: HttpRequest, *, client: Client, alert_id: int) -> HttpResponse:
    with reading_from_primary():
        alert = alert_get(client=client, alert_id=alert_id)
        if alert is None:
            raise Http404("No such alert.")
        try:
            alert_acknowledge(alert=alert, user=request.user)
        except ApplicationError as exc:  # resolved already: nothing to acknowledge
            messages.error(request, exc.message)
            return _back(request, client)
    messages.success(request, f"Acknowledged: {alert.get_metric_display()}.")
    return _back(request, client)


@client_view
@require_POST
def alert_resolve_view(request: HttpRequest, *, client: Client, alert_id: int) -> HttpResponse:
    with reading_from_primary():
        alert = alert_get(client=client, alert_id=alert_id)
        if alert is None:
            raise Http404("No such alert.")
        alert_resolve(alert=alert, user=request.user)
    messages.success(request, f"Resolved: {alert.get_metric_display()}.")
    return _back(request, client)
