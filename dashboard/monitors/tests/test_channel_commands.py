"""create_alert_channel: an e-mail or webhook channel for a client or the owner, the
webhook's secret printed once, and every bad request refused with nothing created."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from collector.tests.factories import ClientFactory
from dashboard.monitors.models import AlertChannel, ChannelKind

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_alert_channel", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def acme(db):
    return ClientFactory(slug="acme", name="Acme")


def test_an_email_channel_for_a_client(acme):
    output = run("acme", "--email", "support@acme.example")
    channel = AlertChannel.objects.get()
    assert (channel.client, channel.kind, channel.email) == (
        acme,
        ChannelKind.EMAIL,
        "support@acme.example",
    )
    assert "alerts of Acme (acme) to support@acme.example" in output
    assert channel.secret not in output  # an e-mail channel's (unused) secret is not shown


def test_a_webhook_for_the_owner_prints_its_generated_secret_once(db):
    output = run("--owner", "--webhook", "https://hooks.example.com/flusso")
    channel = AlertChannel.objects.get()
    assert channel.client is None and channel.kind == ChannelKind.WEBHOOK
    assert channel.url == "https://hooks.example.com/flusso" and not channel.slack
    assert output.count(channel.secret) == 1 and len(channel.secret) >= 40
    assert "the owner (every client)" in output


def test_a_slack_webhook_with_a_given_secret_does_not_echo_it(acme):
    secret = "given-secret-0123456789abcdef"
    url = "https://hooks.slack.com/services/T/B/x"
    output = run("acme", "--webhook", url, "--secret", secret, "--slack")
    channel = AlertChannel.objects.get()
    assert channel.secret == secret and channel.slack
    assert secret not in output and "Slack-compatible" in output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nope", "--email", "a@example.com"], "No client has the slug 'nope'"),
        (["acme", "--email", "not-an-address"], "is not a valid e-mail address"),
        (["acme", "--webhook", "ftp://hooks.example.com/"], "http:// or https://"),
        (["acme", "--webhook", "https://u:p@hooks.example.com/"], "user name or password"),
        (["acme", "--webhook", "not a url"], "spaces"),
        (["acme"], "--email ADDRESS or --webhook URL"),
        (
            ["acme", "--email", "a@example.com", "--webhook", "https://hooks.example.com/"],
            "--email ADDRESS or --webhook URL",
        ),
        (["--email", "a@example.com"], "SLUG or --owner"),
        (["acme", "--owner", "--email", "a@example.com"], "SLUG or --owner"),
        (["acme", "--email", "a@example.com", "--slack"], "with --webhook only"),
        (["acme", "--email", "a@example.com", "--secret", "x" * 20], "with --webhook only"),
        (["acme", "--webhook", "https://hooks.example.com/", "--secret", "short"], "16 to 128"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message_and_nothing_created(acme, args, says):
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert says in str(caught.value)
    assert not AlertChannel.objects.exists()
