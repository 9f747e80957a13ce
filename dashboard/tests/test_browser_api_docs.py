"""The API docs' "Try it out" in a real browser (Debian's Chromium), with the demo key.

The docs' example log names the demo client, so the key `make run` prints stores it (it
used to answer 403 client_mismatch), a second try answers duplicate, and the same key
reads the dashboard's figures back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from collector.models import WorkflowLog
from collector.openapi import EXAMPLE_LOG
from dashboard.demo import demo_seed
from dashboard.tests.test_browser import browser, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"

expect.set_options(timeout=20_000)


def _authorize(docs: Page, key: str) -> None:
    docs.click("button.authorize")
    scheme = docs.locator(".auth-container").filter(has_text="bearerAuth")
    scheme.locator("input").fill(key)
    scheme.locator("button.authorize").click()
    docs.click("button.btn-done")


def _try(docs: Page, operation_id: str, tag: str) -> tuple[str, str]:
    """Execute the operation with its example and answer (status, body) as shown."""
    block = docs.locator(f"#operations-{tag}-{operation_id}")
    if not block.locator("button.execute").count():
        if not block.locator("button.try-out__btn").count():
            block.locator(".opblock-summary").click()
        block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table .response .response-col_status")
    expect(status).not_to_be_empty()
    body = block.locator(".live-responses-table .response-col_description pre").first
    expect(body).not_to_be_empty()
    return status.inner_text().strip(), body.inner_text()


def test_try_it_out_with_the_demo_key_stores_the_example_then_answers_duplicate(
    live_server,
    page,  # noqa: F811
):
    result = demo_seed(scale=0.05)
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Flusso collector API")
    _authorize(page, result.api_key)
    # One of the two key headers is enough: the operation shows as authorized.
    logs_block = page.locator("#operations-logs-logs_create")
    expect(logs_block.get_by_label("authorization button locked")).to_have_count(1)

    status, body = _try(page, "logs_create", "logs")
    assert status == "201", body
    assert '"created"' in body
    page.locator("#operations-logs-logs_create button.btn-clear").click()
    status, body = _try(page, "logs_create", "logs")
    assert status == "200", body
    assert '"duplicate"' in body
    assert WorkflowLog.objects.filter(log_id=EXAMPLE_LOG["log_id"]).count() == 1

    status, body = _try(page, "stats_retrieve", "stats")
    assert status == "200", body
    assert f'"client_id": "{result.client_slug}"' in body
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs-try-it-out.png"), full_page=False)
