"""The API's exception handler: the one place an application error gets its HTTP status."""

from __future__ import annotations

import pytest

from collector.errors import (
    BatchInvalid,
    ChunkedBodyRefused,
    ClientMismatch,
    DocumentInvalid,
    PayloadTooLarge,
)
from collector.exceptions import api_exception_handler, error_headers, error_status
from collector.fairness import RETRY_AFTER_SECONDS, TooManyConcurrentRequests
from flusso_site.errors import ApplicationError, NotFound, NotPermitted


class _SomeonesLogNotFound(NotFound):
    """An error of another app, known to the handler only by its kind."""


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (DocumentInvalid("x"), 400, "invalid"),
        (BatchInvalid("x"), 400, "invalid"),
        (ChunkedBodyRefused("x"), 400, "length_required"),
        (ClientMismatch("x"), 403, "client_mismatch"),
        (PayloadTooLarge("x"), 413, "payload_too_large"),
        (TooManyConcurrentRequests(limit=2), 429, "too_many_concurrent_requests"),
        (_SomeonesLogNotFound("x"), 404, "not_found"),
        (NotPermitted("x", code="verdict_not_yours"), 403, "verdict_not_yours"),
        (ApplicationError("x"), 400, "invalid"),
    ],
)
def test_each_error_class_answers_its_status_and_keeps_its_code(error, status, code):
    response = api_exception_handler(error, {})
    assert response.status_code == status == error_status(error)
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"] == "x" or status == 429


def test_only_errors_worth_retrying_carry_retry_after():
    assert error_headers(TooManyConcurrentRequests(limit=2)) == {
        "Retry-After": str(RETRY_AFTER_SECONDS)
    }
    assert error_headers(PayloadTooLarge("x")) == {}
    assert "Retry-After" not in api_exception_handler(ClientMismatch("x"), {})
