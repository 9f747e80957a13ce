"""What can go wrong when a client sends logs, one class for each kind of refusal.

Parsers, views and services raise these; ``collector.exceptions`` maps each class to its
HTTP status (and Retry-After), so none of them chooses one.
"""

from __future__ import annotations

from flusso_site.errors import ApplicationError, NotPermitted


class DocumentInvalid(ApplicationError):
    """A log document (or a body) that cannot be stored: not an object, invalid fields,
    nested too deeply, or holding text the database refuses. Its fields say where."""


class BatchInvalid(ApplicationError):
    """The batch envelope is malformed: not ``{"logs": [...]}``, empty, or too long."""


class ClientMismatch(NotPermitted):
    """A document names a client_id that is not the API key's client."""

    code = "client_mismatch"


class PayloadTooLarge(ApplicationError):
    """A body (or one document of a batch) is larger than its limit."""

    code = "payload_too_large"


class ChunkedBodyRefused(ApplicationError):
    """A chunked body without a Content-Length, which WSGI would read as empty."""

    code = "length_required"
