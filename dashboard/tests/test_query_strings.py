"""Every query-string parameter of every page, fuzzed: a clear 200 or 400, never a 500.

Parameters are hand-editable (and shared as links), so any text may arrive in any of them.
The Django test client re-raises an exception a view lets escape, so a would-be 500 fails
the test with its traceback; exports are read to the end, where a streamed error would be.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.selectors.logs import cursor_encode
from dashboard.tests.fixtures import seed_fixed_logs

DASHBOARD_PARAMS = ["period", "start", "end", "environment", "version"]
LOG_PARAMS = [
    "status",
    "environment",
    "version",
    "start",
    "end",
    "ticket",
    "confidence_min",
    "confidence_max",
    "error_type",
    "error_node",
    "sort",
    "cursor",
]


def _raw_cursor(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# Values chosen to sit on the edges parsers trip over, mixed with arbitrary text.
AWKWARD = [
    "",
    " ",
    "abc",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e999",
    "-1",
    "0",
    "1",
    "0.5",
    "24h",
    "7d",
    "30d",
    "90d",
    "custom",
    "-time",
    "confidence",
    "-iterations",
    "SUCCESS",
    "production",
    "v1.0",
    "2026-11-01",
    "2026-11-10",
    "2026-02-30",
    "2026-13-01",
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2026-11-01T10:00",
    "2026-11-01 10:00:00.123456",
    "2026-11-01T10:00+99:00",
    "2026-11-01T10:00Z",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00+14:00",
    "10/25/2026",
    "a\x00b",
    "\x00",
    "<script>alert(1)</script>",
    "'; DROP TABLE collector_workflowlog; --",
    "%00",
    '=HYPERLINK("x")',
    "é" * 200,
    "x" * 600,
    "garbage!!",
    "eyJ4IjogMX0",
    _raw_cursor([1, 2]),
    _raw_cursor({"s": "-time", "v": "2026-13-01T00:00:00", "i": 1, "d": "next"}),
    _raw_cursor({"s": "-time", "v": "2026-11-01T00:00:00", "i": 1, "d": "next"}),
    _raw_cursor({"s": "-time", "v": "2026-11-01T00:00:00+00:00", "i": 10**30, "d": "next"}),
    _raw_cursor({"s": "-time", "v": "0001-01-01T00:00:00+05:00", "i": 1, "d": "prev"}),
    cursor_encode(sort="-time", value="2026-11-05T00:00:00+00:00", pk=1, direction="next"),
    cursor_encode(sort="-confidence", value=float("nan"), pk=1, direction="next"),
    cursor_encode(sort="-confidence", value=10**400, pk=1, direction="prev"),
]
values = st.one_of(st.sampled_from(AWKWARD), st.text(max_size=40))


def queries(params: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(params), values, max_size=len(params))


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _read(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def fixed(client_a, client_b):
    return seed_fixed_logs(client_a, client_b)


def _walk(http, url: str, params: list[str], extra: list[dict[str, str]]) -> dict[str, int]:
    """Each parameter alone with each awkward value, then the extra queries: the statuses."""
    statuses = {}
    for query in [{name: value} for name in params for value in AWKWARD] + extra:
        try:
            response = http.get(url, query)
            _read(response)
        except Exception as exc:  # every failure is collected, not just the first
            statuses[repr(query)] = f"{type(exc).__name__}: {exc}"
        else:
            statuses[repr(query)] = response.status_code
    return statuses


def test_every_dashboard_parameter_answers_every_awkward_value(http_a, client_a, fixed):
    """Bad values are form errors on the page (which falls back to 30 days): always 200."""
    url = reverse("dashboard:client", args=[client_a.slug])
    ranges = [
        {"period": "custom", "start": start, "end": end}
        for start in ("0001-01-01", "1969-12-31", "2026-11-01", "9999-12-30")
        for end in ("0001-01-02", "2026-11-10", "3000-01-01", "9999-12-31")
    ]
    statuses = _walk(http_a, url, DASHBOARD_PARAMS, ranges)
    assert {q: s for q, s in statuses.items() if s != 200} == {}


@pytest.mark.parametrize("name", ["logs", "logs_csv", "logs_json"])
def test_every_log_parameter_answers_every_awkward_value(http_a, client_a, fixed, name):
    """The log viewer and its exports read a value or refuse it with a 400; never a 500."""
    url = reverse(f"dashboard:{name}", args=[client_a.slug])
    sorted_cursors = [
        {"sort": sort, "cursor": cursor}
        for sort in ("-confidence", "duration", "-time")
        for cursor in AWKWARD
        if len(cursor) > 8
    ]
    statuses = _walk(http_a, url, LOG_PARAMS, sorted_cursors)
    assert {q: s for q, s in statuses.items() if s not in (200, 400)} == {}


@FUZZ
@given(query=queries(DASHBOARD_PARAMS))
def test_the_client_dashboard_answers_any_query_string(http_a, client_a, fixed, query):
    response = http_a.get(reverse("dashboard:client", args=[client_a.slug]), query)
    assert response.status_code == 200
    _read(response)


@pytest.mark.parametrize("name", ["logs", "logs_csv", "logs_json"])
@FUZZ
@given(query=queries(LOG_PARAMS))
def test_the_log_viewer_and_exports_answer_any_query_string(http_a, client_a, fixed, name, query):
    response = http_a.get(reverse(f"dashboard:{name}", args=[client_a.slug]), query)
    assert response.status_code in (200, 400)
    _read(response)


@FUZZ
@given(query=queries(["sort"]))
def test_the_owner_overview_answers_any_sort(http_owner, fixed, query):
    response = http_owner.get(reverse("dashboard:home"), query)
    assert response.status_code == 200
