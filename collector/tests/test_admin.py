import re

import pytest
from django.urls import reverse

from collector.keys import key_parse, secret_hash
from collector.models import ApiKey
from collector.tests.factories import ApiKeyFactory, ClientFactory, WorkflowLogFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_creating_a_key_shows_the_full_key_once_and_stores_only_its_hash(staff):
    client = ClientFactory(slug="acme")
    response = staff.post(
        reverse("admin:collector_apikey_add"),
        {"client": client.pk, "label": "prod-eu", "scope_ingest": "on"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    shown = re.search(rb'id="new-api-key"[^>]*>(flk_[^<]+)<', response.content)
    assert shown, response.content
    raw_key = shown.group(1).decode()
    parsed = key_parse(raw_key)
    api_key = ApiKey.objects.get(client=client)
    assert parsed is not None and parsed.prefix == api_key.prefix and api_key.label == "prod-eu"
    assert api_key.secret_hash == secret_hash(parsed.secret)
    # Nowhere afterwards: the change page shows the prefix only.
    change = staff.get(reverse("admin:collector_apikey_change", args=[api_key.pk]))
    assert parsed.secret.encode() not in change.content
    listing = staff.get(reverse("admin:collector_client_change", args=[client.pk]))
    assert parsed.secret.encode() not in listing.content
    assert api_key.prefix.encode() in listing.content


def test_revoke_action_revokes_selected_keys(staff):
    keep, revoke = ApiKeyFactory(), ApiKeyFactory()
    response = staff.post(
        reverse("admin:collector_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [revoke.pk]},
        follow=True,
    )
    assert response.status_code == 200
    revoke.refresh_from_db()
    keep.refresh_from_db()
    assert revoke.revoked_at is not None and keep.revoked_at is None


def test_keys_cannot_be_deleted(staff):
    api_key = ApiKeyFactory()
    response = staff.get(reverse("admin:collector_apikey_delete", args=[api_key.pk]))
    assert response.status_code == 403


def test_logs_are_read_only_filterable_and_searchable(staff):
    log = WorkflowLogFactory(ticket_id="48213", status="FAILED")
    WorkflowLogFactory(ticket_id="99999")
    url = reverse("admin:collector_workflowlog_changelist")
    found = staff.get(url, {"q": "48213", "status__exact": "FAILED"})
    assert found.status_code == 200
    assert b"48213" in found.content and b"99999" not in found.content
    assert staff.get(reverse("admin:collector_workflowlog_add")).status_code == 403
    detail = staff.get(reverse("admin:collector_workflowlog_change", args=[log.pk]))
    assert detail.status_code == 200 and b'name="_save"' not in detail.content


def test_client_admin_lists_keys_inline_with_a_create_link(staff):
    client = ClientFactory()
    ApiKeyFactory(client=client, label="rotating")
    response = staff.get(reverse("admin:collector_client_changelist"))
    assert reverse("admin:collector_apikey_add").encode() in response.content
    change = staff.get(reverse("admin:collector_client_change", args=[client.pk]))
    assert b"rotating" in change.content


def test_creating_and_revoking_keys_in_admin_records_who_did_it(staff, admin_user):
    from collector.models import ApiKeyEvent, ApiKeyEventKind, ApiKeyEventSource

    client = ClientFactory(slug="acme")
    staff.post(
        reverse("admin:collector_apikey_add"),
        {"client": client.pk, "label": "ci", "scope_ingest": "on"},
    )
    api_key = ApiKey.objects.get(client=client)
    staff.post(
        reverse("admin:collector_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
    )
    events = ApiKeyEvent.objects.order_by("at", "id")
    assert [(e.kind, e.actor, e.source, e.key_prefix) for e in events] == [
        (ApiKeyEventKind.CREATED, admin_user, ApiKeyEventSource.ADMIN, api_key.prefix),
        (ApiKeyEventKind.REVOKED, admin_user, ApiKeyEventSource.ADMIN, api_key.prefix),
    ]


def test_the_key_audit_trail_is_visible_and_read_only_in_admin(staff):
    from collector.models import ApiKeyEvent
    from collector.services import api_key_create

    api_key, raw_key = api_key_create(client=ClientFactory(slug="acme"))
    event = ApiKeyEvent.objects.get()
    listing = staff.get(reverse("admin:collector_apikeyevent_changelist"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert f"flk_{api_key.prefix}_" in html and "command line" in html
    assert key_parse(raw_key).secret not in html
    assert staff.get(reverse("admin:collector_apikeyevent_add")).status_code == 403
    change = staff.get(reverse("admin:collector_apikeyevent_change", args=[event.pk]))
    assert change.status_code == 200 and b'name="_save"' not in change.content
    delete = staff.get(reverse("admin:collector_apikeyevent_delete", args=[event.pk]))
    assert delete.status_code == 403
    staff.post(reverse("admin:collector_apikeyevent_change", args=[event.pk]), {"kind": "revoked"})
    event.refresh_from_db()
    assert event.kind == "created"


def test_the_owner_chooses_a_new_keys_scopes_and_the_lists_show_them(staff):
    client = ClientFactory(slug="acme")
    form = staff.get(reverse("admin:collector_apikey_add"))
    # The ingest box starts ticked, the read box not: a key is ingest-only unless chosen.
    assert re.search(rb'<input[^>]*name="scope_ingest"[^>]*checked', form.content)
    assert not re.search(rb'<input[^>]*name="scope_read"[^>]*checked', form.content)
    created = staff.post(
        reverse("admin:collector_apikey_add"),
        {"client": client.pk, "label": "bi", "scope_read": "on"},
    )
    assert re.search(rb'id="new-api-key-scopes">read<', created.content)
    assert b"LOG_COLLECTOR_API_KEY" not in created.content  # it cannot send logs
    api_key = ApiKey.objects.get(client=client)
    assert api_key.scopes == ["read"]
    listing = staff.get(reverse("admin:collector_apikey_changelist"))
    assert re.search(rb'<td class="field-scopes_display">read</td>', listing.content)
    inline = staff.get(reverse("admin:collector_client_change", args=[client.pk]))
    assert b"field-scopes_display" in inline.content
    change = staff.get(reverse("admin:collector_apikey_change", args=[api_key.pk]))
    assert b'name="scope_read"' not in change.content  # chosen once, at creation


def test_a_key_without_a_scope_is_refused_in_admin_and_nothing_is_created(staff):
    client = ClientFactory(slug="acme")
    response = staff.post(reverse("admin:collector_apikey_add"), {"client": client.pk})
    assert response.status_code == 200
    assert b"at least one scope" in response.content
    assert not ApiKey.objects.exists()


def test_the_client_list_shows_log_counts_last_log_and_a_dashboard_link(staff):
    import datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    busy = ClientFactory(slug="acme")
    ClientFactory(slug="globex")
    newest = (timezone.now() - dt.timedelta(days=2)).replace(microsecond=0)
    for days in (2, 5, 40):
        WorkflowLogFactory(client=busy, timestamp=newest - dt.timedelta(days=days - 2))
    WorkflowLogFactory(client=busy, timestamp=timezone.now() - dt.timedelta(seconds=5))
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(reverse("admin:collector_client_changelist"))
    html = response.content.decode()
    rows = {
        slug: re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{slug}(?:(?!</tr>).)*</tr>", html, re.S)[0]
        for slug in ("acme", "globex")
    }
    assert re.search(r'class="field-log_count">4<', rows["acme"])
    assert re.search(r'class="field-log_count">0<', rows["globex"])
    assert 'class="field-last_log">never<' in rows["globex"]
    assert timezone.localtime(timezone.now()).strftime("%Y-%m-%d") in rows["acme"]
    assert reverse("dashboard:client", args=["acme"]) in rows["acme"]
    # Read from the read model: nothing counts the log table.
    log_table = WorkflowLogFactory._meta.model._meta.db_table
    assert not [q["sql"] for q in queries if "COUNT" in q["sql"].upper() and log_table in q["sql"]]


def test_the_client_change_page_offers_to_create_a_key_and_open_the_dashboard(staff):
    client = ClientFactory(slug="acme")
    html = staff.get(reverse("admin:collector_client_change", args=[client.pk])).content.decode()
    assert f"{reverse('admin:collector_apikey_add')}?client={client.pk}" in html
    assert "Create a key" in html
    assert reverse("dashboard:client", args=["acme"]) in html
    # The add page has no client yet: no link to a key for nobody.
    add = staff.get(reverse("admin:collector_client_add")).content.decode()
    assert "Save the client first." in add
