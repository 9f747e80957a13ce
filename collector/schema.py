"""OpenAPI description of the API key authentication (found by drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "collector.authentication.ApiKeyAuthentication"
    name = ["bearerAuth", "apiKeyHeader"]

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return [
            {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer flk_…"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]
