"""Management commands: create_user and seed_demo."""

from __future__ import annotations

import io
import re
import shlex
import sys

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient

from collector.models import ApiKey, Client, LogStatus, WorkflowLog
from collector.tests.factories import ClientFactory
from dashboard.models import Membership

User = get_user_model()
PASSWORD = "a-long-enough-passphrase"


def run(*args: str, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


class TtyInput(io.StringIO):
    def isatty(self) -> bool:
        return True


# create_user ------------------------------------------------------------------------------


def test_create_user_makes_a_member_of_each_client_given(client_a, client_b):
    output = run(
        "create_user",
        "Ann@Acme.example",
        "--client",
        "acme",
        "--client",
        "globex",
        "--password",
        PASSWORD,
    )
    user = User.objects.get(email="ann@acme.example")
    assert "Created ann@acme.example" in output
    assert not user.is_staff
    assert user.check_password(PASSWORD)
    assert set(Membership.objects.filter(user=user).values_list("client__slug", flat=True)) == {
        "acme",
        "globex",
    }
    assert EmailAddress.objects.filter(user=user, verified=True, primary=True).exists()


def test_create_user_owner_is_staff_and_sees_the_admin(db):
    run("create_user", "boss@flusso.example", "--owner", "--password", PASSWORD)
    user = User.objects.get(email="boss@flusso.example")
    assert user.is_staff and user.is_superuser


def test_create_user_reads_the_password_from_stdin_when_it_is_not_a_terminal(client_a, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    run("create_user", "ann@acme.example", "--client", "acme")
    assert User.objects.get(email="ann@acme.example").check_password(PASSWORD)


def test_create_user_prompts_twice_on_a_terminal(client_a, monkeypatch):
    monkeypatch.setattr(sys, "stdin", TtyInput())
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    run("create_user", "ann@acme.example", "--client", "acme")
    assert User.objects.get(email="ann@acme.example").check_password(PASSWORD)


def test_create_user_refuses_passwords_that_differ(client_a, monkeypatch):
    monkeypatch.setattr(sys, "stdin", TtyInput())
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        run("create_user", "ann@acme.example", "--client", "acme")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ann@acme.example", "--client", "nope"], "No client with the slug nope"),
        (["not-an-email", "--client", "acme"], "not a valid e-mail"),
        (["ann@acme.example"], "--client SLUG"),
        (["ann@acme.example", "--client", "acme", "--password", "123"], "too short"),
    ],
)
def test_create_user_refuses_bad_input_and_creates_nothing(client_a, args, message):
    if "--password" not in args:
        args = [*args, "--password", PASSWORD]
    with pytest.raises(CommandError, match=message):
        run("create_user", *args)
    assert not User.objects.exists()


def test_create_user_refuses_an_email_already_taken(client_a):
    run("create_user", "ann@acme.example", "--client", "acme", "--password", PASSWORD)
    with pytest.raises(CommandError, match="already exists"):
        run("create_user", "ANN@acme.example", "--client", "acme", "--password", PASSWORD)


def test_a_created_user_logs_in_with_email_and_password(client_a):
    run("create_user", "ann@acme.example", "--client", "acme", "--password", PASSWORD)
    http = HttpClient()
    response = http.post("/accounts/login/", {"login": "ann@acme.example", "password": PASSWORD})
    assert response.status_code == 302
    assert http.get("/dashboard/").status_code == 302  # on to the client's dashboard


# seed_demo ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_fills_an_empty_database_and_prints_logins_key_and_curl():
    output = run("seed_demo", "--base-url", "http://127.0.0.1:9000/")
    clients = Client.objects.all()
    assert clients.count() == 2
    logs = WorkflowLog.objects.all()
    assert 2000 <= logs.count() <= 6000
    for client in clients:
        span = logs.filter(client=client).order_by("timestamp")
        assert (span.last().timestamp - span.first().timestamp).days >= 80
    statuses = set(logs.values_list("status", flat=True))
    assert statuses == set(LogStatus.values)
    assert logs.exclude(error_type="").count() > 50
    assert logs.values("workflow_version").distinct().count() >= 3
    assert set(logs.values_list("environment", flat=True)) == {"production", "staging"}
    # PII from the generated states never reaches the stored documents.
    assert not logs.filter(document__icontains="@example.com").exists()
    assert User.objects.filter(is_staff=True).count() == 1
    # The client user has judged enough of the first client's last 30 days for the
    # verdict figures and their calibration chart, and left the rest to the review queue.
    from django.utils import timezone

    from dashboard.forms import DashboardFilterForm
    from dashboard.reviews.models import Verdict
    from dashboard.selectors.verdicts import client_verdict_figures

    first = Client.objects.get(slug="aurora-home")
    assert Verdict.objects.for_client(first).count() == 80
    assert "80 verdicts" in output
    last_30_days = DashboardFilterForm({}).filters(now=timezone.now())
    figures = client_verdict_figures(client=first, filters=last_30_days)
    assert figures.enough and figures.enough_for_calibration and figures.needless_escalations
    member = User.objects.get(is_staff=False)
    assert member.memberships.count() == 1
    assert ApiKey.objects.count() == 1

    logins = re.findall(r"(\S+@\S+)  /  (\S+)", output)
    assert len(logins) == 2
    for email, password in logins:
        assert User.objects.get(email=email).check_password(password)
    key = re.search(r"API key for [\w-]+ \(shown once\): (\S+)", output).group(1)
    assert f"Authorization: Bearer {key}" in output
    assert "curl -X POST http://127.0.0.1:9000/api/v1/logs" in output
    assert "Log in at http://127.0.0.1:9000/accounts/login/" in output
    assert ApiKey.objects.get().scopes == ["ingest", "read"]  # the read API works too


def curl(line: str, base_url: str):
    """Run a printed curl line against the test server: its method, headers and body."""
    words = shlex.split(line)
    assert words[0] == "curl"
    method, headers, body, url = "GET", {}, None, None
    words = iter(words[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(": ")
            headers[name] = value
        elif word == "-d":
            body = next(words)
        else:
            url = word
    assert url and url.startswith(base_url)
    path = url.removeprefix(base_url)
    http = HttpClient()
    if method == "POST":
        content_type = headers.pop("Content-Type")
        return http.post(path, body, content_type=content_type, headers=headers)
    return http.get(path, headers=headers)


@pytest.mark.django_db
def test_the_printed_curl_lines_send_a_log_once_and_read_it_back(settings):
    """Run twice, the send line answers "duplicate" (it carries a log_id) and stores the
    run once; the read lines answer that log and the figures of the last 7 days."""
    base_url = "http://127.0.0.1:9000"
    lines = [line.strip() for line in run("seed_demo").splitlines()]
    lines = [line.replace("http://127.0.0.1:8000", base_url) for line in lines]
    send, read_log, read_stats = [line for line in lines if line.startswith("curl ")]
    first, second = curl(send, base_url), curl(send, base_url)
    assert (first.status_code, first.json()["status"]) == (201, "created")
    assert (second.status_code, second.json()["status"]) == (200, "duplicate")
    log_id = first.json()["log_id"]
    assert WorkflowLog.objects.filter(log_id=log_id).count() == 1
    log = curl(read_log, base_url)
    assert log.status_code == 200 and log.json()["log_id"] == log_id
    stats = curl(read_stats, base_url)
    assert stats.status_code == 200 and stats.json()["period"] == "7d"
    assert stats.json()["current"]["runs"] > 0


def test_seed_demo_leaves_a_database_with_data_alone(db):
    ClientFactory()
    output = run("seed_demo")
    assert "left it alone" in output
    assert "create_api_key SLUG" in output
    assert Client.objects.count() == 1
    assert not WorkflowLog.objects.exists()


def test_seed_demo_leaves_a_database_with_only_a_user_alone(owner):
    assert "left it alone" in run("seed_demo")
    assert not Client.objects.exists()


# The demo data stays out of the production app's request path.
_SERVING_IMPORTS = """
import sys
import django
django.setup()
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

get_wsgi_application()  # the middleware, as a server loads it


def walk(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern.url_patterns)
        else:
            pattern.callback  # imports the view's module


walk(get_resolver(settings.ROOT_URLCONF).url_patterns)
print(sorted(name for name in sys.modules if name.split(".")[:2] == ["dashboard", "demo"]))
"""


def test_serving_the_site_imports_no_demo_code():
    """The app, its middleware and every route's view load without dashboard.demo (only
    seed_demo and the tests import it)."""
    import os
    import subprocess
    from pathlib import Path

    from django.conf import settings

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flusso_site.settings.test"}
    found = subprocess.run(
        [sys.executable, "-c", _SERVING_IMPORTS],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == "[]"
