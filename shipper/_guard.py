"""The internal-exceptions guard: a bug in the shipper is logged, never raised to the host."""

from __future__ import annotations

import functools
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger("shipper")

F = TypeVar("F", bound=Callable[..., Any])

# One warning per minute at most: a bug hit on every call must not flood the host's logs.
_WARN_EVERY = 60.0
_last_warning = 0.0


def report_internal_error(where: str, exc: BaseException) -> None:
    """Log an internal error by type only; the message could quote a log's content."""
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY:
        _last_warning = now
        logger.warning("shipper: internal error in %s (%s); continuing", where, type(exc).__name__)
    if logger.isEnabledFor(logging.DEBUG):
        # The frames, not exc_info: the exception's message could quote a log's content.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.debug("shipper: internal error in %s (%s)\n%s", where, type(exc).__name__, frames)


def guarded(default: Any = None) -> Callable[[F], F]:
    """Decorate a public entry point: any ``Exception`` becomes ``default`` plus a log line."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                report_internal_error(func.__name__, exc)
                return default

        return wrapper  # type: ignore[return-value]

    return decorate
