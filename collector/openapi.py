"""What the OpenAPI document adds to what drf-spectacular reads from the views and the
serializers (the document's schema, in ``collector/serializers.py``): the API key
authentication (found by drf-spectacular) and the example documents the API docs offer to
"Try it out"."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "collector.authentication.ApiKeyAuthentication"
    name = ["bearerAuth", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema):  # type: ignore[no-untyped-def]
        # Either header (OR): one dict naming both would require both at once, and the
        # docs' "Authorize" with one of them would leave every operation locked.
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return [
            {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer flk_…"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]


# The demo client's slug (seed_demo's first client, dashboard.demo.seed.DEMO_CLIENTS, takes
# it from here): the docs' example log names it as its client_id, so "Try it out" with
# the demo key stores the example instead of answering 403 client_mismatch.
DEMO_CLIENT_SLUG = "aurora-home"

# A fixed log_id: trying the example twice answers "duplicate" the second time.
EXAMPLE_LOG = {
    "log_id": "5b0f7c2e-8d6a-4e5f-9a43-2c1d0b9e7f61",
    "client_id": DEMO_CLIENT_SLUG,
    "environment": "production",
    "workflow_version": "v1.0",
    "ticket_id": "12345",
    "status": "SUCCESS",
    "timestamp": "2026-11-20T09:14:09.940000+00:00",
    "execution_time_seconds": 4.82,
    "metrics": {
        "react_iterations": 5,
        "overall_confidence": 0.82,
        "hallucination_risk": 0.12,
        "product_confidence": 0.91,
        "vision_matches": 4,
        "text_matches": 10,
    },
    "error": None,
    "trace": {"planning": {"intent": "replacement_part_request"}},
}
