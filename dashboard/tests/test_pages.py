"""The two busiest pages' data, each read by one call (dashboard/selectors/pages.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from collector.tests.factories import WorkflowLogFactory
from dashboard.forms import DashboardFilterForm
from dashboard.models import SavedView
from dashboard.selectors.logs import LogFilters
from dashboard.selectors.pages import client_dashboard_page, log_list_page

pytestmark = pytest.mark.django_db


def _filters():
    return DashboardFilterForm({}).filters(now=timezone.now())


def test_a_client_without_logs_has_no_dashboard_data(client_a):
    assert client_dashboard_page(client=client_a, filters=_filters(), compare_query={}) is None


def test_the_dashboard_data_holds_the_windows_numbers_and_nothing_of_another_client(
    client_a, client_b
):
    WorkflowLogFactory(client=client_a, timestamp=timezone.now())
    WorkflowLogFactory.create_batch(3, client=client_b, timestamp=timezone.now())
    found = client_dashboard_page(client=client_a, filters=_filters(), compare_query={})
    assert found is not None
    assert found.numbers.kpis.current.runs == 1
    assert found.verdicts.reviewed == 0 and found.open_alerts == []
    assert found.silent_since is None


def test_invalid_filters_give_the_reason_the_menus_and_the_saved_views(client_a, owner, user_a):
    SavedView.objects.create(
        client=client_a, name="Failed", query="status=FAILED", created_by=owner
    )
    found = log_list_page(
        client=client_a, filters=None, cursor="", size=50, user=user_a, current_query=None
    )
    assert found.page is None and found.count is None and "not valid" in found.error
    (row,) = found.saved_views
    assert (row.view.name, row.deletable, row.author) == ("Failed", False, f"user {owner.pk}")
    assert found.options.environments == [] and found.options.error_types == []


def test_a_bad_cursor_is_the_pages_error_not_an_exception(client_a, user_a):
    WorkflowLogFactory(client=client_a)
    found = log_list_page(
        client=client_a,
        filters=LogFilters(),
        cursor="not-a-cursor",
        size=50,
        user=user_a,
        current_query="",
    )
    assert found.page is None and found.error
