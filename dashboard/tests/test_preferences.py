"""A user's own time zone: set on the account page, applied to every page they see."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.models import UserPreferences
from dashboard.services import InvalidTimeZone, user_preferences_update
from dashboard.tests.factories import MembershipFactory
from dashboard.tests.fixtures import CUSTOM_QUERY, at, log

PREFERENCES = "/accounts/preferences/"


def test_the_preferences_page_offers_the_zones_and_says_the_default(http_a, settings):
    html = http_a.get(reverse("account_preferences")).content.decode()
    assert reverse("account_preferences") == PREFERENCES
    assert '<option value="" selected>The service&#x27;s default (UTC)</option>' in html
    assert '<option value="Europe/Paris">Europe/Paris</option>' in html
    assert '<option value="America/New_York">America/New York</option>' in html


def test_saving_a_zone_shows_every_page_in_it(http_a, user_a, client_a):
    response = http_a.post(PREFERENCES, {"time_zone": "Asia/Kolkata"})
    assert response.status_code == 302
    assert UserPreferences.objects.get(user=user_a).time_zone == "Asia/Kolkata"
    entry = log(client_a, at(2026, 11, 5, 8, 30))
    detail = http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id]))
    assert "2026-11-05 14:00:00 Asia/Kolkata" in detail.content.decode()
    page = http_a.get(PREFERENCES).content.decode()
    assert '<option value="Asia/Kolkata" selected>' in page
    assert 'data-testid="current-time-zone">Asia/Kolkata<' in page


def test_the_dashboard_reads_its_dates_in_the_users_zone(http_a, user_a, client_a):
    user_preferences_update(user=user_a, time_zone="Europe/Paris")
    # Nov 1 starts at 2026-10-31T23:00Z in Paris: this log is inside the range there.
    log(client_a, at(2026, 10, 31, 23, 30))
    html = http_a.get(reverse("dashboard:client", args=[client_a.slug]), CUSTOM_QUERY)
    html = html.content.decode()
    assert 'data-testid="kpi-runs">1<' in html
    assert "2026-11-01 00:00 \u2013 2026-11-11 00:00 Europe/Paris" in html


def test_one_users_zone_is_not_anothers(http_a, user_a, client_a):
    from django.test import Client as HttpClient

    user_preferences_update(user=user_a, time_zone="Asia/Tokyo")
    bob = MembershipFactory(client=client_a, user__email="bob@acme.example").user
    http_b = HttpClient()
    http_b.force_login(bob)
    entry = log(client_a, at(2026, 11, 5, 8, 30))
    html = http_b.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id])).content
    assert "2026-11-05 08:30:00 UTC" in html.decode()


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "x" * 200, "UTC "])
def test_an_unknown_zone_is_refused_and_changes_nothing(http_a, user_a, zone):
    user_preferences_update(user=user_a, time_zone="Europe/Paris")
    response = http_a.post(PREFERENCES, {"time_zone": zone})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert UserPreferences.objects.get(user=user_a).time_zone == "Europe/Paris"


def test_the_service_refuses_an_unknown_zone(user_a):
    with pytest.raises(InvalidTimeZone):
        user_preferences_update(user=user_a, time_zone="Nowhere/Atlantis")
    assert not UserPreferences.objects.filter(user=user_a).exists()


def test_blank_goes_back_to_the_default(http_a, user_a):
    user_preferences_update(user=user_a, time_zone="Europe/Paris")
    http_a.post(PREFERENCES, {"time_zone": ""})
    assert UserPreferences.objects.get(user=user_a).time_zone == ""


def test_a_stored_zone_this_machine_no_longer_knows_falls_back_to_the_default(
    http_a, user_a, client_a
):
    UserPreferences.objects.create(user=user_a, time_zone="Old/Removed")
    entry = log(client_a, at(2026, 11, 5, 8, 30))
    response = http_a.get(reverse("dashboard:log", args=[client_a.slug, entry.log_id]))
    assert response.status_code == 200
    assert "2026-11-05 08:30:00 UTC" in response.content.decode()


def test_the_preferences_page_needs_a_login(db):
    from django.test import Client as HttpClient

    response = HttpClient().get(PREFERENCES)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
