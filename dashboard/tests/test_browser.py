"""The dashboards in a real browser (Debian's Chromium) against a live server.

Each page visited is saved to test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect, sync_playwright

from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.demo import demo_seed
from dashboard.tests.factories import PASSWORD, MembershipFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Charts on the client dashboard: 5 charts plus errors by type and by node; over its
# default 30 days also the calibration against the demo's 80 verdicts (drawn from 50
# reviewed runs, so not over 7 days, which hold about a quarter of them).
CHARTS_ON_DASHBOARD_7D = 7
CHARTS_ON_DASHBOARD = CHARTS_ON_DASHBOARD_7D + 1

pytestmark = pytest.mark.django_db(transaction=True)

# How long expect() waits for the page to reach a state (not a time the test asserts):
# parsing plotly.js (~4 MB) and drawing seven charts took over Playwright's default 5 s on
# a loaded machine (two suites at once), failing the test although the page was right.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def demo():
    """A small demo dataset built by the shipper's builder, with its logins."""
    result = demo_seed(scale=0.3)
    assert result.seeded
    return {role.split()[0]: (email, password) for role, email, password in result.logins}


DOCS_SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
    # The README's copies, refreshed on request only (a test run must not change the tree).
    docs_copy = DOCS_SCREENSHOTS / f"{name}.png"
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") and docs_copy.exists():
        shutil.copyfile(SCREENSHOTS / f"{name}.png", docs_copy)


# Whether every KPI card's value starts at the same height as the others in its row,
# whatever the lengths of their labels.
KPI_VALUES_ALIGNED = """() => {
  const rows = {};
  for (const card of document.querySelectorAll(".kpi")) {
    const top = Math.round(card.getBoundingClientRect().top);
    const value = card.querySelector(".kpi-value").getBoundingClientRect().top;
    (rows[top] ??= []).push(value);
  }
  return Object.values(rows).every((v) => Math.max(...v) - Math.min(...v) < 1);
}"""


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/dashboard/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/dashboard/")
    page.fill("#id_login", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_client_user_logs_in_sees_charts_filters_logs_opens_a_log_and_logs_out(
    live_server, page, demo
):
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    shot(page, "login")
    email, password = demo["client"]
    log_in(page, base, email, password)

    # One client: straight to its dashboard, with every chart drawn by plotly.js.
    expect(page).to_have_url(f"{base}/dashboard/aurora-home/")
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS_ON_DASHBOARD)
    expect(page.get_by_test_id("kpi-runs")).not_to_have_text("—")
    # The eight cards in one row, their values level (the verdict figures below are a
    # row of their own).
    cards = page.locator("section.kpis[aria-label='Key figures'] > .kpi").all()
    assert len(cards) == 8
    tops = {round(box["y"]) for box in (c.bounding_box() for c in cards)}
    assert len(tops) == 1, tops
    assert page.evaluate(KPI_VALUES_ALIGNED)
    # The top bar is one row on a laptop screen too.
    bar = page.locator("header.topbar").bounding_box()
    assert bar is not None and bar["height"] < 60, bar
    shot(page, "client-dashboard")

    # The period picker keeps its choice in the URL.
    page.click("label.pill:has-text('7d')")
    expect(page).to_have_url(
        f"{base}/dashboard/aurora-home/?period=7d&start=&end=&environment=&version="
    )
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS_ON_DASHBOARD_7D)

    # Logs, filtered on FAILED runs.
    page.click("nav.nav >> text=Logs")
    expect(page.get_by_test_id("log-table")).to_be_visible()
    page.select_option("select[name=status]", "FAILED")
    page.click("form[data-testid=log-filters] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/logs/\?.*status=FAILED"))
    statuses = page.locator("table.logs tbody .status")
    expect(statuses.first).to_have_text("FAILED")
    assert set(statuses.all_inner_texts()) == {"FAILED"}
    shot(page, "logs", full_page=False)

    # A log's detail page.
    page.locator("table.logs tbody tr a").first.click()
    expect(page.get_by_test_id("detail-status")).to_have_text("FAILED")
    expect(page.get_by_test_id("detail-error")).to_be_visible()
    expect(page.get_by_test_id("trace-ticket").locator("code.hash").first).to_contain_text(
        "sha256:"
    )
    shot(page, "log-detail")

    # Log out: back to the login page, and the dashboard is closed again.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{base}/accounts/login/")
    page.goto(f"{base}/dashboard/aurora-home/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/dashboard/aurora-home/")


def test_owner_sees_every_client_and_a_narrow_window_stays_readable(live_server, page, demo):
    base = live_server.url
    ClientFactory(slug="newco", name="NewCo Appliances")
    email, password = demo["owner"]
    log_in(page, base, email, password)

    expect(page).to_have_url(f"{base}/dashboard/")
    rows = page.locator("[data-testid=overview-table] tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("silent-warning")).to_contain_text("Brightline Outdoor")
    shot(page, "owner-overview")

    # The switcher takes the owner to a client; a client without logs explains how to connect.
    page.select_option("#client-switcher", label="NewCo Appliances")
    expect(page.get_by_test_id("empty-state")).to_contain_text("CLIENT_ID=newco")
    shot(page, "empty-state")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/dashboard/aurora-home/")
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    # Nothing overflows sideways: the page is no wider than the window.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shot(page, "client-dashboard-narrow", full_page=False)


def test_picking_dates_and_applying_shows_that_custom_range(live_server, page):
    """Filling From and To then Apply must show those dates, not the period still ticked."""
    user = MembershipFactory(client__slug="acme", user__email="ann@acme.example").user
    WorkflowLogFactory(client=user.memberships.get().client)
    base = live_server.url
    log_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(f"{base}/dashboard/acme/")
    page.fill("input[name=start]", "2026-11-01")
    page.fill("input[name=end]", "2026-11-10")
    page.click("form[data-testid=dashboard-filters] button[type=submit]")
    expect(page).to_have_url(re.compile(r"period=custom&start=2026-11-01&end=2026-11-10"))
    expect(page.get_by_test_id("window")).to_contain_text("2026-11-01 00:00")
    expect(page.get_by_test_id("filter-errors")).to_have_count(0)


# Reports every Content-Security-Policy violation as a console error (the test collects
# those), so a violation the browser would only count silently still fails the test.
# Playwright injects this script itself: the page's policy does not apply to it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def strict_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page whose console errors, uncaught errors and CSP violations are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"{page.url}: uncaught {e}"))
    yield page, problems
    context.close()


def paint_timings(page: Page) -> dict[str, float]:
    """Milliseconds from navigation: first contentful paint, charts started and drawn."""
    return page.evaluate(
        """() => {
          const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
          return {
            fcp: at("first-contentful-paint"),
            charts_start: at("flusso:charts-start"),
            charts_drawn: at("flusso:charts-drawn"),
          };
        }"""
    )


def test_the_client_pages_run_under_the_csp_without_a_violation_and_their_scripts_work(
    live_server, strict_page, demo
):
    """Charts drawn from JSON blocks, the filters' handlers bound from static JS, no
    inline script blocked, no console error; plotly.js runs only after the first paint."""
    page, problems = strict_page
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    email, password = demo["client"]
    log_in(page, base, email, password)

    expect(page).to_have_url(f"{base}/dashboard/aurora-home/")
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS_ON_DASHBOARD)
    expect(page.locator("html[data-charts-drawn=true]")).to_have_count(1)
    timings = paint_timings(page)
    print(f"client dashboard paint timings (ms): {timings}")
    assert timings["fcp"] is not None
    # The page was on screen before plotly.js was even run.
    assert timings["fcp"] < timings["charts_start"] <= timings["charts_drawn"]

    # A date picked ticks "custom" (a handler bound by static/js/flusso.js) ...
    page.fill("input[name=start]", "2026-11-01")
    page.dispatch_event("input[name=start]", "change")
    expect(page.locator("input[name=period][value=custom]")).to_be_checked()
    # ... and a period pill sends the form at once.
    page.click("label.pill:has-text('7d')")
    expect(page).to_have_url(re.compile(r"/dashboard/aurora-home/\?period=7d&"))
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS_ON_DASHBOARD_7D)

    page.click("nav.nav >> text=Logs")
    expect(page.get_by_test_id("log-table")).to_be_visible()
    page.locator("table.logs tbody tr a").first.click()
    expect(page.get_by_test_id("detail-status")).to_be_visible()
    for path in ("/accounts/password/change/", "/accounts/2fa/"):
        page.goto(f"{base}{path}")
        expect(page.locator("header.topbar")).to_be_visible()
    assert problems == [], "\n".join(problems)

    # The branded 404 page, whose own status the console reports as a failed load.
    page.goto(f"{base}/dashboard/no-such-client/")
    expect(page.get_by_test_id("error-page")).to_contain_text("There is no such page")
    assert [p for p in problems if "status of 404" not in p] == []


def test_the_owner_pages_admin_and_api_docs_run_under_the_csp_without_a_violation(
    live_server, strict_page, demo
):
    page, problems = strict_page
    base = live_server.url
    email, password = demo["owner"]
    log_in(page, base, email, password)
    expect(page.get_by_test_id("overview-table")).to_be_visible()

    # The client switcher's handler comes from static/js/flusso.js.
    page.select_option("#client-switcher", label="Aurora Home Fixtures")
    expect(page).to_have_url(f"{base}/dashboard/aurora-home/")
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS_ON_DASHBOARD)

    page.goto(f"{base}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{base}/admin/collector/client/")
    expect(page.locator("#result_list")).to_be_visible()
    page.goto(f"{base}/admin/collector/client/add/")
    expect(page.locator("#client_form")).to_be_visible()

    # Swagger UI draws the API from the schema: its init script is a static request too.
    page.goto(f"{base}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Flusso collector API")
    expect(page.locator(".opblock").first).to_be_visible()
    shot(page, "api-docs", full_page=False)

    assert problems == [], "\n".join(problems)


# Phone widths ---------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}

# Problems a phone reader would see, found in the page itself: sideways overflow, text
# boxes drawn over one another (page text, and each chart's tick, legend and bar labels),
# and table columns cut off where nothing scrolls to them.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    problems.push(`page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return r.width > 1 && r.height > 1 && style.visibility !== "hidden" && style.opacity !== "0";
  };
  const overlap = (a, b) => {
    const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return x > 2 && y > 2;
  };
  // An open menu covers the page by design: its links are checked among themselves.
  const layer = (el) => el.closest(".topbar-menu-panel");
  const clash = (elements, where) => {
    // Each line box of a wrapped inline element is a box of its own.
    const boxes = elements.filter(visible).map((el) => [el, [...el.getClientRects()]]);
    const touch = (ra, rb) => ra.some((a) => rb.some((b) => overlap(a, b)));
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, ra] = boxes[i], [b, rb] = boxes[j];
        if (a.contains(b) || b.contains(a) || layer(a) !== layer(b) || !touch(ra, rb)) continue;
        problems.push(`${where}: "${a.textContent.trim().slice(0, 30)}" overlaps `
          + `"${b.textContent.trim().slice(0, 30)}"`);
      }
    }
  };
  // Page text: leaf elements holding text, outside charts and closed menus.
  const leaves = [...document.querySelectorAll("header *, main *")].filter((el) =>
    el.children.length === 0 && el.textContent.trim() && !["OPTION", "SCRIPT", "STYLE"]
      .includes(el.tagName) && !el.closest(".plotly-chart, .js-plotly-plot, .visually-hidden")
      && !el.closest("details:not([open]) > :not(summary)"));
  clash(leaves, "page");
  for (const chart of document.querySelectorAll(".js-plotly-plot")) {
    const labels = [...chart.querySelectorAll(
      ".xtick text, .ytick text, .legendtext, .g-xtitle text, .g-ytitle text, .textpoint text"
    )].filter((el) => el.textContent.trim());
    clash(labels, `chart "${chart.closest(".card")?.querySelector("h2,h3")?.textContent ?? ""}"`);
  }
  // Table columns: a table wider than its box needs a box that scrolls to its columns.
  for (const table of document.querySelectorAll("main table")) {
    let box = table;
    while (box && box !== document.body) {
      const style = getComputedStyle(box);
      if (["auto", "scroll"].includes(style.overflowX)) break;
      if (["hidden", "clip"].includes(style.overflowX) && table.scrollWidth > box.clientWidth) {
        problems.push(`table ${table.dataset.testid ?? ""}: columns hidden by its box`);
        break;
      }
      box = box.parentElement;
    }
    const last = table.querySelector("tr > :last-child");
    if (last && !visible(last) && last.textContent.trim()) {
      problems.push(`table ${table.dataset.testid ?? ""}: its last column is not shown`);
    }
  }
  return problems;
}"""


def phone_problems(page: Page, name: str) -> list[str]:
    shot(page, f"phone-{name}")
    return [f"{name}: {p}" for p in page.evaluate(LAYOUT_PROBLEMS)]


def test_every_dashboard_page_reads_right_at_390_px(live_server, browser, demo):
    """No sideways scrolling, no label drawn over another, no table column out of reach,
    and the top bar one row with its links in a menu."""
    from dashboard.monitors.tests.factories import AlertFactory, MonitorFactory

    aurora = ClientFactory._meta.model.objects.get(slug="aurora-home")
    AlertFactory(monitor=MonitorFactory(client=aurora))
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    base = live_server.url
    ClientFactory(slug="newco", name="NewCo Appliances")  # no logs: the empty state
    page.goto(f"{base}/accounts/login/")
    problems = phone_problems(page, "login")
    email, password = demo["owner"]
    log_in(page, base, email, password)
    expect(page.get_by_test_id("overview-table")).to_be_visible()

    problems += phone_problems(page, "owner-overview")
    # The top bar is one row: its menu, not a wrapped list of links.
    bar = page.locator("header.topbar").bounding_box()
    assert bar is not None and bar["height"] < 60, bar
    expect(page.locator("header.topbar > nav.nav")).to_be_hidden()
    page.get_by_test_id("topbar-menu").locator("summary").click()
    expect(
        page.get_by_test_id("topbar-menu").get_by_role("link", name="Weekly report")
    ).to_be_visible()
    problems += phone_problems(page, "menu-open")
    page.get_by_test_id("topbar-menu").locator("summary").click()

    client_pages = {
        "client-dashboard": "/dashboard/aurora-home/",
        "client-dashboard-24h": "/dashboard/aurora-home/?period=24h",
        "logs": "/dashboard/aurora-home/logs/",
        "alerts": "/dashboard/aurora-home/alerts/",
        "report": "/dashboard/aurora-home/report/",
        "compare": "/dashboard/aurora-home/compare/",
        "owner-report": "/dashboard/report/",
        "owner-compare": "/dashboard/compare/",
        "empty-state": "/dashboard/newco/",
        "preferences": "/accounts/preferences/",
        "notifications": "/accounts/notifications/",
    }
    for name, path in client_pages.items():
        page.goto(base + path)
        if page.locator(".plotly-chart").count():
            expect(page.locator("html[data-charts-drawn=true]")).to_have_count(1)
        problems += phone_problems(page, name)
        if page.locator(".kpi").count() and not page.evaluate(KPI_VALUES_ALIGNED):
            problems.append(f"{name}: KPI values not level")
    page.goto(base + "/dashboard/aurora-home/logs/")
    page.locator("table.logs tbody tr a").first.click()
    expect(page.get_by_test_id("detail-status")).to_be_visible()
    problems += phone_problems(page, "log-detail")
    context.close()
    assert problems == [], "\n".join(problems)


def test_searching_logs_saving_the_view_and_reopening_it(live_server, page, demo):
    """Search the demo's runs, save the filters as a view, reopen it from the menu after
    clearing them, walk to the next run of that list, and delete the view."""
    base = live_server.url
    email, password = demo["client"]
    log_in(page, base, email, password)
    expect(page).to_have_url(f"{base}/dashboard/aurora-home/")
    page.click("nav.nav >> text=Logs")

    # "ships tomorrow" is in the demo's successful replies only.
    page.get_by_test_id("search").fill("ships tomorrow")
    page.click("form[data-testid=log-filters] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/logs/\?q=ships\+tomorrow"))
    expect(page.get_by_test_id("match-count")).to_contain_text("match")
    statuses = page.locator("table.logs tbody .status")
    expect(statuses.first).to_have_text("SUCCESS")
    assert set(statuses.all_inner_texts()) == {"SUCCESS"}
    shot(page, "logs-search", full_page=False)

    page.fill("form[data-testid=saved-view-save] input[name=name]", "Shipping replies")
    page.click("form[data-testid=saved-view-save] button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Saved the view")

    page.click("text=Clear")
    expect(page).to_have_url(f"{base}/dashboard/aurora-home/logs/")
    page.get_by_test_id("saved-view").filter(has_text="Shipping replies").click()
    expect(page).to_have_url(re.compile(r"/logs/\?q=ships\+tomorrow$"))
    expect(page.get_by_test_id("search")).to_have_value("ships tomorrow")
    expect(page.get_by_test_id("saved-view").first).to_have_attribute("aria-current", "true")

    # The run's page keeps the list: its next run is the list's second row.
    second = page.locator("table.logs tbody tr").nth(1).get_attribute("data-log")
    page.locator("table.logs tbody tr a").first.click()
    page.get_by_test_id("next-run").click()
    expect(page).to_have_url(re.compile(rf"/logs/{second}/\?q=ships\+tomorrow"))

    page.get_by_test_id("back-to-list").click()
    page.get_by_test_id("saved-view-delete").click()
    expect(page.locator(".messages")).to_contain_text("Deleted the view")
    expect(page.get_by_test_id("saved-view")).to_have_count(0)
