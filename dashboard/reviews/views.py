"""The review queue, its "next run" redirect, and recording a verdict from a run's page.

Each view is wrapped by ``scoping.client_view`` (the client comes from the URL and the
logged-in user, 404 otherwise). Recording is a POST with the CSRF token that redirects
back (or to the queue's next run); bad input re-renders the run's page with the form's
errors and changes nothing.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from collector.models import Client
from dashboard.forms import PERIODS
from dashboard.rendering import render_page
from dashboard.reviews.forms import VerdictForm, queue_state_from_param, queue_state_parse
from dashboard.reviews.models import VerdictKind
from dashboard.reviews.selectors import (
    LOW_CONFIDENCE,
    review_queue,
    review_queue_next,
)
from dashboard.reviews.services import (
    InvalidVerdict,
    VerdictLogNotFound,
    VerdictNotYours,
    verdict_record,
)
from dashboard.scoping import client_view
from dashboard.selectors import client_filter_options
from dashboard.views import log_detail_page
from flusso_site.routers import reading_from_primary


def _detail_url(client: Client, log_id: uuid.UUID, queue_query: str) -> str:
    url = reverse("dashboard:log", args=[client.slug, log_id])
    return url + "?" + urlencode({"queue": queue_query}) if queue_query else url


@client_view
def review_queue_page(request: HttpRequest, *, client: Client) -> HttpResponse:
    state, form = queue_state_parse(request.GET, now=timezone.now())
    items = review_queue(client=client, filters=state.filters, seed=state.seed)
    rows = [
        (item, _detail_url(client, item.log.log_id, state.query(position=index)))
        for index, item in enumerate(items)
    ]
    context = {
        "form": form,
        "filters": state.filters,
        "period": state.params.get("period", "30d"),
        "periods": list(PERIODS),
        "options": client_filter_options(client=client, window=state.filters.window),
        "rows": rows,
        "start_url": rows[0][1] if rows else "",
        "new_sample_query": urlencode(state.params),
        "low_confidence": LOW_CONFIDENCE,
    }
    return render_page(request, "dashboard/review.html", context, client=client)


@client_view
def review_next(request: HttpRequest, *, client: Client) -> HttpResponse:
    """Redirect to the queue's run after ``after``; to the queue when none is left."""
    raw = request.GET.get("queue", "")
    state = queue_state_from_param(raw, now=timezone.now())
    if state is None:
        return redirect("dashboard:review", client_slug=client.slug)
    try:
        after = uuid.UUID(request.GET.get("after", ""))
    except ValueError:
        after = None
    items = review_queue(client=client, filters=state.filters, seed=state.seed)
    found = review_queue_next(items=items, after=after, position=state.position)
    if found is None:
        messages.info(request, "That was the last run in this queue.")
        return redirect(reverse("dashboard:review", args=[client.slug]) + "?" + state.query())
    item, position = found
    return redirect(_detail_url(client, item.log.log_id, state.query(position=position)))


@client_view
@require_POST
def verdict_record_view(request: HttpRequest, *, client: Client, log_id: uuid.UUID) -> HttpResponse:
    form = VerdictForm(request.POST)
    with reading_from_primary():
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                verdict_record(
                    client=client,
                    log_id=log_id,
                    user=request.user,
                    kind=data["kind"],
                    note=data["note"],
                    better_answer=data["better_answer"],
                )
            except InvalidVerdict as exc:
                for field, problems in exc.fields.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            except VerdictNotYours as exc:
                # The page shows the verdict read-only then, without the form: a message.
                messages.error(request, exc.message)
                status = 403
            except VerdictLogNotFound:
                raise Http404("No such log.") from None
            else:
                messages.success(request, f"Verdict recorded: {VerdictKind(data['kind']).label}.")
                if data["queue"]:
                    query = urlencode({"queue": data["queue"], "after": log_id})
                    return redirect(
                        reverse("dashboard:review_next", args=[client.slug]) + "?" + query
                    )
                return redirect("dashboard:log", client_slug=client.slug, log_id=log_id)
        # The run's page again, with this form's errors (and the queue it came from).
        return log_detail_page(
            request,
            client=client,
            log_id=log_id,
            verdict_form=form,
            queue_param=form.data.get("queue", ""),
            status=status,
        )
