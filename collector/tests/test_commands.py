from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from collector import partitions
from collector.keys import key_parse
from collector.models import ApiKey, Client, Rollup, WorkflowLog
from collector.tests.factories import ApiKeyFactory, ClientFactory, WorkflowLogFactory

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


@pytest.mark.parametrize(
    ("args", "scopes"),
    [
        ((), ["ingest"]),
        (("--scope", "read"), ["read"]),
        (("--scope", "read", "--scope", "ingest"), ["ingest", "read"]),
        (("--scope", "ingest,read"), ["ingest", "read"]),
    ],
)
def test_create_api_key_takes_scopes_and_defaults_to_ingest(args, scopes):
    ClientFactory(slug="acme")
    parsed = key_parse(run("create_api_key", "acme", *args).strip())
    assert ApiKey.objects.get(prefix=parsed.prefix).scopes == scopes


@pytest.mark.parametrize("scope", ["write", "", "read,admin"])
def test_create_api_key_with_a_bad_scope_fails_and_creates_nothing(scope):
    ClientFactory(slug="acme")
    with pytest.raises(CommandError, match="scope"):
        run("create_api_key", "acme", "--scope", scope)
    assert not ApiKey.objects.exists()


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


def test_purge_expired_logs_still_works_as_the_old_name_of_prune_logs():
    assert run("purge_expired_logs").startswith("Deleted 0 expired log(s).\n")


def _old_logs() -> Client:
    client = ClientFactory(slug="old", retention_days=30)
    now = timezone.now()
    for days in (1, 40, 50):
        WorkflowLogFactory(client=client, timestamp=now - timedelta(days=days))
    return client


def test_prune_logs_deletes_expired_logs_and_says_how_many_per_client():
    client = _old_logs()
    output = run("prune_logs")
    assert output.startswith("Deleted 2 expired log(s).\n  old: 2\n")
    assert WorkflowLog.objects.for_client(client).count() == 1
    assert Rollup.objects.for_client(client).filter(grain="d").aggregate(n=Sum("runs"))["n"] == 1


def test_prune_logs_dry_run_changes_nothing():
    client = _old_logs()
    assert run("prune_logs", "--dry-run") == "Would delete 2 expired log(s).\n  old: 2\n"
    assert WorkflowLog.objects.for_client(client).count() == 3


def test_rebuild_rollups_recounts_one_client_or_all():
    client = _old_logs()
    other = ClientFactory(slug="other")
    WorkflowLogFactory(client=other)
    Rollup.objects.all().delete()
    err = StringIO()
    out = run_with_err("rebuild_rollups", "--client", "old", err=err)
    assert out == "Rebuilt the rollups of 1 client(s) from 3 log(s).\n"
    assert "3/3" in err.getvalue()  # the progress bar
    assert Rollup.objects.for_client(client).filter(grain="d").aggregate(n=Sum("runs"))["n"] == 3
    assert not Rollup.objects.for_client(other).exists()
    assert "from 4 log(s)" in run("rebuild_rollups")
    assert Rollup.objects.for_client(other).exists()


def test_rebuild_rollups_of_an_unknown_client_fails():
    with pytest.raises(CommandError, match="nobody"):
        run("rebuild_rollups", "--client", "nobody")


def test_create_partitions_reports_what_it_did():
    output = run("create_partitions", "--months-ahead", "2")
    if partitions.is_partitioned():
        assert output == "Every partition in that range exists.\n"
        output = run("create_partitions", "--months-ahead", "9")
        assert output.count("Created partition") == 9 - partitions.MONTHS_AHEAD
    else:
        assert "not partitioned" in output


def run_with_err(*args: str, err: StringIO) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def test_key_commands_record_their_events_as_the_command_line():
    from collector.models import ApiKeyEvent, ApiKeyEventKind, ApiKeyEventSource

    ClientFactory(slug="acme")
    raw_key = run("create_api_key", "acme").strip()
    run("revoke_api_key", raw_key)
    events = ApiKeyEvent.objects.order_by("at", "id")
    assert [(e.kind, e.actor_id, e.source) for e in events] == [
        (ApiKeyEventKind.CREATED, None, ApiKeyEventSource.COMMAND_LINE),
        (ApiKeyEventKind.REVOKED, None, ApiKeyEventSource.COMMAND_LINE),
    ]
    assert {e.key_prefix for e in events} == {key_parse(raw_key).prefix}
