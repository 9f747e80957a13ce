"""Saved views of the log viewer: save the current filters under a name, delete one.

Both change data: POST only (with the CSRF token), scoped by ``client_view`` (another
client's view is a 404), reading the primary they write.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from collector.models import Client
from dashboard.scoping import client_view
from dashboard.selectors.saved_views import saved_view_get
from dashboard.services_saved_views import saved_view_create, saved_view_delete
from flusso_site.errors import ApplicationError
from flusso_site.routers import reading_from_primary

# The longest query string a save form posts: the stored query's own bound, with room.
MAX_POSTED_QUERY = 4000


def _logs_url(client: Client, query: str = "") -> str:
    url = reverse("dashboard:logs", args=[client.slug])
    return f"{url}?{query}" if query else url


@client_view
@require_POST
def saved_view_create_view(request: HttpRequest, *, client: Client) -> HttpResponse:
    posted = request.POST.get("query", "")[:MAX_POSTED_QUERY]
    filters = QueryDict(posted)
    with reading_from_primary():
        try:
            view = saved_view_create(
                client=client,
                user=request.user,
                name=request.POST.get("name", ""),
                filters=filters,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            # Back to the same filters, less the page it was on.
            back = filters.copy()
            back.pop("cursor", None)
            return redirect(_logs_url(client, back.urlencode()))
    messages.success(request, f"Saved the view {view.name!r}.")
    return redirect(_logs_url(client, view.query))


@client_view
@require_POST
def saved_view_delete_view(request: HttpRequest, *, client: Client, view_id: int) -> HttpResponse:
    with reading_from_primary():
        view = saved_view_get(client=client, view_id=view_id)
        if view is None:
            raise Http404("No such saved view.")
        try:
            saved_view_delete(saved_view=view, user=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(_logs_url(client))
    messages.success(request, f"Deleted the view {view.name!r}.")
    return redirect(_logs_url(client))
