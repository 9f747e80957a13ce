from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from collector.keys import key_parse
from collector.models import ApiKey, Client
from collector.tests.factories import ApiKeyFactory, ClientFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_client():
    assert "acme" in run("create_client", "acme", "--name", "Acme Corp")
    assert Client.objects.get(slug="acme").name == "Acme Corp"


def test_create_client_refuses_a_bad_slug():
    with pytest.raises(CommandError, match="slug"):
        run("create_client", "Bad Slug", "--name", "X")
    assert not Client.objects.exists()


def test_create_api_key_prints_the_key_alone():
    client = ClientFactory(slug="acme")
    output = run("create_api_key", "acme", "--label", "ci")
    raw_key = output.strip()
    assert output == raw_key + "\n"
    parsed = key_parse(raw_key)
    assert parsed is not None
    assert ApiKey.objects.get(prefix=parsed.prefix, client=client).label == "ci"


def test_create_api_key_for_an_unknown_client_fails():
    with pytest.raises(CommandError, match="nobody"):
        run("create_api_key", "nobody")


@pytest.mark.parametrize("form", ["prefix", "full"])
def test_revoke_api_key_by_prefix_or_whole_key(form):
    api_key = ApiKeyFactory()
    given = api_key.prefix if form == "prefix" else api_key.raw_key
    assert "revoked" in run("revoke_api_key", given)
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_revoke_unknown_prefix_fails():
    with pytest.raises(CommandError):
        run("revoke_api_key", "000000000000")


def test_purge_expired_logs_reports_the_count():
    assert run("purge_expired_logs") == "Deleted 0 expired log(s).\n"
