"""Tenant scoping, in one place: every client page is wrapped by ``client_view``.

The decorator resolves ``<client_slug>`` against the logged-in user before the view runs:
anonymous users go to the login page, and a client the user may not see answers 404 (not
403, so nobody learns which clients exist). An inactive client is, for its own users, a
client they may not see (404); the owner still sees it. Views receive the resolved
``client`` and pass it to selectors; they never filter by client themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from dashboard.selectors import client_get_for_user
from flusso_site.routers import replica_reads

ClientView = Callable[..., HttpResponse]


def client_view(view: ClientView) -> Callable[..., HttpResponse]:
    # Client pages only read: their queries go to the replica when there is one. Who the
    # user is and which clients they may see are read first, from the primary, so a
    # logged-out session or a revoked membership is never judged on a lagging copy.
    page = replica_reads(view)

    @wraps(view)
    def wrapped(request: HttpRequest, client_slug: str, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        client = client_get_for_user(user=request.user, slug=client_slug)
        if client is None:
            raise Http404("No such client.")
        return page(request, client=client, **kwargs)

    wrapped.reads_replica = True  # type: ignore[attr-defined]
    # The mark dashboard/tests/test_isolation.py looks for on every route that takes a
    # client slug: a client page without this decorator fails the suite.
    wrapped.client_scoped = True  # type: ignore[attr-defined]
    return wrapped
