"""HTTP to the collector: one keep-alive session, gzip when worthwhile, answers classified."""

from __future__ import annotations

import email.utils
import gzip
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from ._version import __version__
from .config import Config
from .encoding import envelope

logger = logging.getLogger("shipper")

USER_AGENT = f"flusso-shipper/{__version__}"

# Outcome kinds.
OK = "ok"  # the collector answered per document; ``answers`` says which ones
RETRY = "retry"  # connection error, timeout, 5xx, 429: try again later
AUTH = "auth"  # 401/403, 404/405 or no usable URL: misconfiguration, keep the logs
INVALID = "invalid"  # 400: the batch as a whole was refused
TOO_LARGE = "too_large"  # 413


# The per-document answers that settle a log; anything else leaves it undelivered.
ANSWERS = ("created", "duplicate", "rejected")


@dataclass
class Answer:
    """The collector's word on one document of a batch."""

    status: str  # one of ANSWERS
    log_id: str | None = None  # as the collector echoed it, if it did
    fields: list[str] = field(default_factory=list)  # field paths of a rejection


@dataclass
class Outcome:
    kind: str
    status: int | None = None
    retry_after: float | None = None
    error_code: str | None = None
    message: str = ""
    # Index in the batch -> the collector's answer. A document missing here was not answered
    # for: it is not delivered, whatever the status line said.
    answers: dict[int, Answer] = field(default_factory=dict)

    def _count(self, status: str) -> int:
        return sum(a.status == status for a in self.answers.values())

    @property
    def created(self) -> int:
        return self._count("created")

    @property
    def duplicate(self) -> int:
        return self._count("duplicate")

    @property
    def rejected(self) -> int:
        return self._count("rejected")

    @property
    def rejections(self) -> list[tuple[int, list[str]]]:
        """Per rejected document: (index in the batch, the field paths complained of)."""
        return [(i, a.fields) for i, a in sorted(self.answers.items()) if a.status == "rejected"]


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _answers(payload: Any, count: int) -> dict[int, Answer]:
    """The per-document answers of a batch reply, by index; garbage entries are ignored."""
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        return {}
    answers: dict[int, Answer] = {}
    for item in results:
        if not isinstance(item, dict) or item.get("status") not in ANSWERS:
            continue
        index = item.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            continue
        if index in answers:
            continue  # answered twice: the first word stands
        log_id = item.get("log_id")
        answers[index] = Answer(
            status=item["status"],
            log_id=log_id if isinstance(log_id, str) else None,
            fields=_field_paths(item.get("errors")) if item["status"] == "rejected" else [],
        )
    return answers


def _field_paths(errors: Any, prefix: str = "") -> list[str]:
    """The names of the fields in a DRF-style error tree, without the messages (which may
    quote the value)."""
    if isinstance(errors, dict):
        paths: list[str] = []
        for key, value in errors.items():
            sub = f"{prefix}.{key}" if prefix else str(key)
            nested = _field_paths(value, sub) if isinstance(value, dict) else []
            paths.extend(nested or [sub])
        return paths
    return [prefix] if prefix else []


class Transport:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.urls = config.urls
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if config.api_key:
            self.session.headers["Authorization"] = f"Bearer {config.api_key}"
        # Cleared if the collector (or a proxy in front of it) refuses gzip bodies with a 415.
        self.gzip_ok = True

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.config.connect_timeout, self.config.read_timeout)

    def close(self) -> None:
        self.session.close()

    def post_batch(self, docs: list[bytes]) -> Outcome:
        """POST serialised documents to ``/logs/batch`` and classify the answer. Never raises
        for network trouble (that is a ``RETRY`` outcome)."""
        raw = envelope(docs)
        compress = self.gzip_ok and len(raw) >= self.config.gzip_min_bytes
        out = self._post(raw, len(docs), compress=compress)
        if compress and out.status == 415:
            logger.warning("shipper: the collector refused a gzip body (415); sending plain JSON")
            self.gzip_ok = False
            out = self._post(raw, len(docs), compress=False)
        return out

    def _post(self, raw: bytes, count: int, *, compress: bool) -> Outcome:
        headers = {"Content-Type": "application/json"}
        body = raw
        if compress:
            body = gzip.compress(raw, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self.session.post(
                self.urls["batch"], data=body, headers=headers, timeout=self.timeout
            )
        except (
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
        ) as exc:
            # No retry will fix the address: a configuration problem, like a refused key.
            return Outcome(AUTH, error_code="invalid_url", message=type(exc).__name__)
        except requests.RequestException as exc:
            return Outcome(RETRY, message=type(exc).__name__)
        try:
            return self._classify(response, count)
        finally:
            response.close()

    def _classify(self, response: requests.Response, count: int) -> Outcome:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = str(error.get("message", ""))[:200] if isinstance(error, dict) else ""
        if 200 <= status < 300:
            answers = _answers(payload, count)
            if not answers:
                # A 2xx that accounts for none of the logs (a proxy's page, an empty body, a
                # different API): nothing says the collector has them, so they are resent
                # (harmless, log_id makes it idempotent) rather than counted as sent.
                return Outcome(RETRY, status=status, message="unexpected answer")
            return Outcome(OK, status=status, answers=answers)
        if status in (401, 403, 404, 405):
            return Outcome(AUTH, status=status, error_code=code, message=message)
        if status == 413:
            return Outcome(TOO_LARGE, status=status, error_code=code, message=message)
        if status == 429 or status >= 500 or status == 408:
            return Outcome(
                RETRY,
                status=status,
                error_code=code,
                message=message,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        # 400, 415 and the other 4xx: this batch will never be accepted as it is.
        return Outcome(INVALID, status=status, error_code=code, message=message)

    def get_json(self, name: str, *, auth: bool) -> tuple[int, Any]:
        """GET one of the service endpoints (``health``, ``whoami``): (status, JSON or None).
        Raises ``requests.RequestException`` when the collector cannot be reached."""
        # None removes the session's Authorization header: health needs no key.
        headers = None if auth else {"Authorization": None}
        response = self.session.get(self.urls[name], headers=headers, timeout=self.timeout)
        try:
            try:
                return response.status_code, response.json()
            except ValueError:
                return response.status_code, None
        finally:
            response.close()
