"""The comparison page: a client's (scoped by client_view) and the owner's over all."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from collector.models import Client
from dashboard.forms import PERIODS
from dashboard.forms_compare import CompareForm
from dashboard.monitors.statistics_compare import ALPHA, MIN_EXPECTED, MIN_SAMPLES
from dashboard.rendering import render_page
from dashboard.scoping import client_view
from dashboard.selectors.compare import (
    CompareError,
    compare_all_clients_unscoped,
    compare_client,
    compare_options,
    compare_options_all_clients_unscoped,
)
from flusso_site.routers import replica_reads


def _page(request: HttpRequest, *, client: Client | None) -> HttpResponse:
    form = CompareForm(request.GET)
    now = timezone.now()
    window = form.filters(now=now).window
    if client is not None:
        options = compare_options(client=client, window=window.span)
    else:
        options = compare_options_all_clients_unscoped(window=window.span)
    comparison = None
    status = 400 if form.errors else 200
    if form.has_pair:
        try:
            query = form.query(now=now)
            if client is not None:
                comparison = compare_client(client=client, query=query)
            else:
                comparison = compare_all_clients_unscoped(query=query)
        except CompareError as exc:
            form.add_error(exc.field, exc.message)
            status = 400
    context: dict[str, Any] = {
        "form": form,
        "window": window,
        "options": options,
        "comparison": comparison,
        "dimension": getattr(form, "cleaned_data", {}).get("dimension") or "version",
        "period": form.cleaned_data.get("period", "30d") if form.is_valid() else "30d",
        "periods": list(PERIODS),
        "alpha": ALPHA,
        "confidence": 1 - ALPHA,
        "min_samples": MIN_SAMPLES,
        "min_expected": MIN_EXPECTED,
        "owner_view": client is None,
    }
    return render_page(request, "dashboard/compare.html", context, client=client, status=status)


@client_view
def compare(request: HttpRequest, *, client: Client) -> HttpResponse:
    return _page(request, client=client)


@login_required
def owner_compare(request: HttpRequest) -> HttpResponse:
    """The same across all clients: the owner's only (404 to anyone else)."""
    if not request.user.is_staff:
        raise Http404("No such page.")
    return replica_reads(_page)(request, client=None)


owner_compare.reads_replica = True  # type: ignore[attr-defined]
