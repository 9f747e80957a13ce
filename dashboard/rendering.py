"""Rendering a page inside the dashboard's layout, for every app's views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from collector.models import Client
from dashboard.monitors.selectors.alerts import alert_open_count
from dashboard.selectors import client_list_for_user

# The client switcher lists at most this many of the user's clients (a member of more
# picks from the home page's chooser).
SWITCHER_MAX = 200


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    client: Client | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render with the layout's needs: the current client, its unresolved alerts (the
    nav's badge) and the client switcher."""
    switcher = list(client_list_for_user(user=request.user).only("slug", "name")[:SWITCHER_MAX])
    context = {
        "client": client,
        "nav_open_alerts": alert_open_count(client=client) if client is not None else 0,
        "switcher_clients": switcher if len(switcher) > 1 else [],
        **context,
    }
    return render(request, template, context, status=status)
