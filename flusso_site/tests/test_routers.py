"""Reads from the replica, writes to the primary: the router and the page decorator."""

from __future__ import annotations

import time

import pytest
from django.db import OperationalError
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from collector.models import WorkflowLog
from flusso_site import routers


@pytest.fixture
def with_replica(monkeypatch, settings):
    """As if DATABASE_REPLICA_URL were set (nothing here connects to it)."""
    monkeypatch.setattr(routers, "replica_configured", lambda: True)
    return settings


def test_without_a_replica_everything_reads_the_primary():
    with routers.reading_from_replica():
        assert routers.read_database() == "default"
        assert routers.ReplicaRouter().db_for_read(WorkflowLog) is None


def test_with_a_replica_only_pages_read_it_and_nothing_writes_it(with_replica):
    router = routers.ReplicaRouter()
    assert routers.read_database() == "default"
    assert router.db_for_read(WorkflowLog) is None
    with routers.reading_from_replica():
        assert routers.read_database() == "replica"
        assert router.db_for_read(WorkflowLog) == "replica"
        assert router.db_for_write(WorkflowLog) == "default"
    assert routers.read_database() == "default"
    assert router.allow_migrate("default", "collector")
    assert not router.allow_migrate("replica", "collector")


def test_a_page_falls_back_to_the_primary_when_the_replica_does_not_answer(with_replica):
    seen = []

    def page(request):
        seen.append(routers.read_database())
        if routers.read_database() == "replica":
            raise OperationalError("replica down")
        return HttpResponse("ok")

    response = routers.replica_reads(page)(RequestFactory().get("/dashboard/"))
    assert response.status_code == 200
    assert seen == ["replica", "default"]


def test_after_a_users_own_write_their_pages_read_the_primary(with_replica):
    middleware = routers.PrimaryAfterWriteMiddleware(lambda request: HttpResponse("ok"))
    factory = RequestFactory()
    written = middleware(factory.post("/dashboard/acme/settings/"))
    until = int(written.cookies[routers.STICKY_COOKIE].value)
    assert time.time() < until <= time.time() + with_replica.REPLICA_STICKY_SECONDS + 1
    assert routers.STICKY_COOKIE not in middleware(factory.get("/dashboard/")).cookies
    # The API's clients are not dashboard users: no cookie for them.
    assert routers.STICKY_COOKIE not in middleware(factory.post("/api/v1/logs")).cookies

    seen = []
    page = routers.replica_reads(lambda request: seen.append(routers.read_database()) or "x")
    sticky = factory.get("/dashboard/")
    sticky.COOKIES[routers.STICKY_COOKIE] = str(until)
    page(sticky)
    page(factory.get("/dashboard/"))
    assert seen == ["default", "replica"]


def _views(resolver: URLResolver, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found += _views(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.append((prefix + str(pattern.pattern), pattern.callback))
    return found


def test_every_dashboard_page_reads_the_replica_when_there_is_one():
    pages = [
        (route, view) for route, view in _views(get_resolver()) if route.startswith("dashboard/")
    ]
    assert pages
    for route, view in pages:
        if route in DASHBOARD_WRITES:
            continue
        assert getattr(view, "reads_replica", False), route


# Dashboard routes that write, and so stay on the primary: the weekly report's unsubscribe
# link (its POST turns the report off; its GET must see a token just sent).
DASHBOARD_WRITES = {"dashboard/unsubscribe/<unsubscribe_token:token>/"}


def test_the_pages_that_write_are_known_and_do_not_read_the_replica():
    routes = dict(_views(get_resolver()))
    for route in DASHBOARD_WRITES:
        assert not getattr(routes[route], "reads_replica", False), route
