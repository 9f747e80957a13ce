"""Tenant isolation: every client URL resolves the client for the user, or answers 404."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, include, path, reverse
from django.urls.converters import UUIDConverter
from django.urls.resolvers import RoutePattern
from django.views.decorators.cache import never_cache

from collector.tests.factories import WorkflowLogFactory
from dashboard.models import SavedView
from dashboard.scoping import client_view
from dashboard.tests.factories import MembershipFactory, SavedViewFactory, UserFactory

CLIENT_URLS = ["client", "logs", "logs_csv", "logs_json", "log", "log_raw"]


@pytest.fixture
def log_b(client_b):
    return WorkflowLogFactory(client=client_b)


@pytest.fixture
def log_a(client_a):
    return WorkflowLogFactory(client=client_a)


def is_client_scoped(view) -> bool:
    """Whether the view resolves its client through ``client_view`` (the mark it sets)."""
    return getattr(view, "client_scoped", False) is True


def url_for(name: str, client, log) -> str:
    if name in ("log", "log_raw"):
        return reverse(f"dashboard:{name}", args=[client.slug, log.log_id])
    return reverse(f"dashboard:{name}", args=[client.slug])


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_a_user_of_client_a_gets_404_on_every_url_of_client_b(http_a, client_b, log_b, name):
    response = http_a.get(url_for(name, client_b, log_b))
    assert response.status_code == 404


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_a_user_of_client_a_reaches_every_url_of_client_a(http_a, client_a, log_a, name):
    response = http_a.get(url_for(name, client_a, log_a))
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["log", "log_raw"])
def test_a_log_of_client_b_is_404_under_client_a_slug(http_a, client_a, log_b, name):
    """The log id alone grants nothing: the log must belong to the client in the URL."""
    response = http_a.get(reverse(f"dashboard:{name}", args=[client_a.slug, log_b.log_id]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_an_unknown_client_is_404_like_a_forbidden_one(http_a, log_a, name):
    class Missing:
        slug = "no-such-client"

    assert http_a.get(url_for(name, Missing, log_a)).status_code == 404


@pytest.mark.parametrize("name", [*CLIENT_URLS, "home"])
def test_anonymous_users_are_sent_to_the_login_page(client_a, log_a, name):
    url = reverse("dashboard:home") if name == "home" else url_for(name, client_a, log_a)
    response = HttpClient().get(url)
    assert response.status_code == 302
    login = reverse(settings.LOGIN_URL)
    assert response["Location"].startswith(login)
    assert "next=" in response["Location"]


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_staff_see_every_client(http_owner, client_a, client_b, log_a, log_b, name):
    for client, log in ((client_a, log_a), (client_b, log_b)):
        response = http_owner.get(url_for(name, client, log))
        assert response.status_code == 200
        if response.streaming:
            # Downloaded, as a browser would: the export's cursor closes with it.
            b"".join(response.streaming_content)


def test_a_deactivated_member_is_logged_out(client_a, log_a):
    user = MembershipFactory(client=client_a).user
    http = HttpClient()
    http.force_login(user)
    user.is_active = False
    user.save()
    response = http.get(url_for("client", client_a, log_a))
    assert response.status_code == 302


def test_a_user_without_membership_sees_no_client_page(client_a, log_a):
    http = HttpClient()
    http.force_login(UserFactory())
    assert http.get(url_for("client", client_a, log_a)).status_code == 404
    response = http.get(reverse("dashboard:home"))
    assert response.status_code == 200
    assert b"not linked to any client" in response.content


def test_a_cursor_from_client_b_shows_only_client_a_logs(client_a, client_b):
    """A cursor only positions a page; the rows are always the URL's client's."""
    from dashboard.selectors import LogFilters, log_page

    a_logs = {str(WorkflowLogFactory(client=client_a).log_id) for _ in range(3)}
    b_logs = {str(WorkflowLogFactory(client=client_b).log_id) for _ in range(3)}
    for sort in ("-time", "time"):
        b_page = log_page(client=client_b, filters=LogFilters(sort=sort), size=1)
        http = HttpClient()
        http.force_login(MembershipFactory(client=client_a).user)
        response = http.get(
            reverse("dashboard:logs", args=[client_a.slug]),
            {"cursor": b_page.next_cursor, "sort": sort},
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert set(re.findall(r'<tr data-log="([0-9a-f-]+)"', html)) <= a_logs
        assert not any(log_id in html for log_id in b_logs)


# The URLconf walk --------------------------------------------------------------------
#
# Every route whose URL takes a client slug must be wrapped by scoping.client_view: the
# walk finds them all (whatever app or include they come from), so a new client page that
# forgets the decorator fails here, and each one found is tried as another client's user,
# as an anonymous visitor and as the owner.


@dataclass(frozen=True)
class Route:
    name: str
    callback: Any
    converters: dict[str, Any]


def _walk(patterns: list[Any], namespaces: tuple[str, ...] = (), converters=None):
    converters = converters or {}
    for entry in patterns:
        found = {**converters, **_converters(entry.pattern)}
        if isinstance(entry, URLResolver):
            space = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from _walk(entry.url_patterns, space, found)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespaces, entry.name)) if entry.name else repr(entry)
            yield Route(name=name, callback=entry.callback, converters=found)


def _converters(pattern: Any) -> dict[str, Any]:
    if isinstance(pattern, RoutePattern):
        return dict(pattern.converters)
    return dict.fromkeys(pattern.regex.groupindex)  # a regex group: no converter


def client_routes(patterns: list[Any]) -> list[Route]:
    return [route for route in _walk(patterns) if "client_slug" in route.converters]


def unscoped(routes: list[Route]) -> list[str]:
    return [route.name for route in routes if not is_client_scoped(route.callback)]


ROUTES = client_routes(get_resolver().url_patterns)


# Actions that change something take POST only: the walk sends them a POST (a GET is 405
# for those allowed in, which test_post_only_routes_refuse_a_get checks).
POST_ONLY = {
    "dashboard:alert_acknowledge",
    "dashboard:alert_resolve",
    "dashboard:log_verdict",
    "dashboard:saved_view_create",
    "dashboard:saved_view_delete",
}
# What an action's POST carries in the walk: a form it would accept.
POST_DATA = {"dashboard:log_verdict": {"kind": "correct"}}
# Pages that redirect those let in: the review queue's "next run".
REDIRECTS = {"dashboard:review_next"}


def send(http: HttpClient, route: Route, url: str):
    if route.name in POST_ONLY:
        return http.post(url, POST_DATA.get(route.name, {}))
    return http.get(url)


def route_url(route: Route, client, log, *, objects_of=None) -> str:
    """The route's URL under ``client``'s slug, with ids of objects (a log, an alert) of
    ``objects_of``: by default the log's client, the same as ``client`` or not."""
    from dashboard.monitors.tests.factories import AlertFactory

    owner_of_objects = objects_of or log.client
    kwargs = {}
    for name, converter in route.converters.items():
        if name == "client_slug":
            kwargs[name] = client.slug
        elif isinstance(converter, UUIDConverter):
            kwargs[name] = log.log_id
        elif name == "alert_id":
            kwargs[name] = AlertFactory(monitor__client=owner_of_objects).pk
        elif name == "view_id":
            kwargs[name] = SavedViewFactory(client=owner_of_objects).pk
        else:
            pytest.fail(f"{route.name}: teach this test a value for <{name}>")
    return reverse(route.name, kwargs=kwargs)


# Routes that take an object id besides the slug: the id alone must grant nothing.
OBJECT_ROUTES = [r for r in ROUTES if set(r.converters) - {"client_slug"}]


def test_the_walk_finds_every_client_page():
    """The walk is not vacuous: it finds at least the pages known today."""
    assert {f"dashboard:{name}" for name in CLIENT_URLS} <= {r.name for r in ROUTES}


def test_every_route_that_takes_a_client_slug_is_wrapped_by_the_scoping_decorator():
    assert unscoped(ROUTES) == []


def test_a_client_page_without_the_decorator_is_caught_by_the_walk():
    """The check fails on the mistake it exists for: a page that forgot client_view."""

    def forgot_scoping(request, client_slug):
        raise AssertionError("never called")

    @client_view
    def scoped(request, *, client):
        raise AssertionError("never called")

    patterns = [
        path("x/<slug:client_slug>/new/", forgot_scoping, name="new"),
        path("x/<slug:client_slug>/", include(([path("ok/", scoped, name="ok")], "app"))),
    ]
    assert unscoped(client_routes(patterns)) == ["new"]
    # A later decorator (cache headers, say) keeps the mark: functools.wraps copies it.
    assert is_client_scoped(never_cache(scoped))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_client_route_is_404_to_another_clients_user(route, http_a, client_b, log_b):
    assert send(http_a, route, route_url(route, client_b, log_b)).status_code == 404


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_client_route_sends_anonymous_users_to_the_login_page(route, client_a, log_a):
    response = send(HttpClient(), route, route_url(route, client_a, log_a))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse(settings.LOGIN_URL) + "?next=")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_client_route_lets_the_owner_and_the_clients_users_in(
    route, http_owner, http_a, client_a, log_a
):
    # A page answers 200; an action redirects back to its page. Each gets its own object
    # (the owner's delete would leave none for the next).
    expected = 302 if route.name in POST_ONLY | REDIRECTS else 200
    # The client's user first: the owner may change what they recorded, not the reverse.
    assert send(http_a, route, route_url(route, client_a, log_a)).status_code == expected
    assert send(http_owner, route, route_url(route, client_a, log_a)).status_code == expected


def test_the_walk_finds_the_routes_that_take_an_object_id():
    assert {"dashboard:log", "dashboard:alert_acknowledge", "dashboard:alert_resolve"} <= {
        r.name for r in OBJECT_ROUTES
    }


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=lambda r: r.name)
def test_another_clients_object_under_this_clients_slug_is_404(
    route, http_a, http_owner, client_a, client_b, log_b
):
    """A user of client A (and the owner, who may see both) asking for client B's log or
    alert under A's slug gets 404: objects are reached through the URL's client only."""
    for http in (http_a, http_owner):
        url = route_url(route, client_a, log_b, objects_of=client_b)
        assert send(http, route, url).status_code == 404
    if route.name in POST_ONLY:
        from dashboard.monitors.models import Alert, AlertState
        from dashboard.reviews.models import Verdict

        # Nothing was acknowledged, resolved, judged or deleted on the way.
        assert not Alert.objects.filter(client=client_b).exclude(state=AlertState.OPEN).exists()
        assert not Verdict.objects.exists()
        if route.name == "dashboard:saved_view_delete":
            assert SavedView.objects.filter(client=client_b).count() == 2


@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_post_only_routes_refuse_a_get(name, http_a, log_a):
    route = next(r for r in ROUTES if r.name == name)
    assert http_a.get(route_url(route, log_a.client, log_a)).status_code == 405


# One place filters rows by client ---------------------------------------------------

SELECTOR_MODULES = [
    *sorted((Path(settings.BASE_DIR) / "dashboard" / "selectors").glob("*.py")),
    Path(settings.BASE_DIR) / "collector" / "selectors.py",
]
QUERY_METHODS = {"filter", "exclude", "get", "get_or_create", "update_or_create", "Q"}


def hand_written_client_filters(source: str) -> list[str]:
    """Query calls with a client keyword (``filter(client=…)``, ``client_id__in=…``,
    ``Q(client__slug=…)``): what ``for_client``/``for_clients`` exist to replace."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in QUERY_METHODS:
            continue
        for keyword in node.keywords:
            arg = keyword.arg or ""
            if arg in ("client", "client_id") or arg.startswith(("client__", "client_id__")):
                found.append(f"line {node.lineno}: {name}({arg}=…)")
    return found


def test_the_check_for_hand_written_client_filters_catches_each_form():
    source = (
        "a = Log.objects.filter(client=c)\n"
        "b = Rollup.objects.exclude(client_id__in=ids)\n"
        "d = Q(client__slug='acme')\n"
        "e = Log.objects.for_client(c).filter(ticket_id='1')\n"
    )
    assert [f.split(": ")[1] for f in hand_written_client_filters(source)] == [
        "filter(client=…)",
        "exclude(client_id__in=…)",
        "Q(client__slug=…)",
    ]


@pytest.mark.parametrize("module", SELECTOR_MODULES, ids=lambda p: p.name)
def test_selectors_filter_rows_by_client_only_through_the_scoped_queryset(module):
    assert hand_written_client_filters(module.read_text()) == []


def test_for_client_and_for_clients_return_only_those_clients_rows(client_a, client_b):
    from collector.models import Client as ClientModel
    from collector.models import WorkflowLog

    other = ClientModel.objects.create(slug="initech", name="Initech")
    logs = {c.slug: WorkflowLogFactory(client=c).pk for c in (client_a, client_b, other)}
    assert list(WorkflowLog.objects.for_client(client_a).values_list("pk", flat=True)) == [
        logs["acme"]
    ]
    assert set(
        WorkflowLog.objects.for_clients([client_a, client_b.pk]).values_list("pk", flat=True)
    ) == {logs["acme"], logs["globex"]}


# Inactive clients ---------------------------------------------------------------------


@pytest.fixture
def inactive_a(client_a):
    client_a.is_active = False
    client_a.save(update_fields=["is_active"])
    return client_a


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_users_of_an_inactive_client_no_longer_see_its_pages(http_a, log_a, inactive_a, name):
    assert http_a.get(url_for(name, inactive_a, log_a)).status_code == 404


def test_an_inactive_client_leaves_its_users_home_page(http_a, inactive_a):
    response = http_a.get(reverse("dashboard:home"))
    assert response.status_code == 200  # no redirect to the client's dashboard
    assert inactive_a.name not in response.content.decode()


@pytest.mark.parametrize("name", CLIENT_URLS)
def test_the_owner_still_sees_an_inactive_client(http_owner, log_a, inactive_a, name):
    assert http_owner.get(url_for(name, inactive_a, log_a)).status_code == 200
