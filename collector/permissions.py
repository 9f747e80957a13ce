"""The API key scopes an endpoint requires (``ApiKeyScope``): ingestion needs ``ingest``,
the read API ``read``. A key without the scope is answered 403 ``missing_scope`` in the
API's error shape; a request without a key is still 401 (``IsAuthenticated`` runs first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from collector.models import ApiKey, ApiKeyScope

if TYPE_CHECKING:
    from rest_framework.views import APIView


class _ScopeRequired(BasePermission):
    scope: str
    code = "missing_scope"

    @property
    def message(self) -> str:  # read by DRF when has_permission is False
        return (
            f"This API key lacks the {self.scope!r} scope; create a key with "
            f"--scope {self.scope} (or choose it in admin)."
        )

    def has_permission(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        return isinstance(api_key, ApiKey) and api_key.has_scope(self.scope)


class IngestScope(_ScopeRequired):
    scope = ApiKeyScope.INGEST.value


class ReadScope(_ScopeRequired):
    scope = ApiKeyScope.READ.value
