from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from collector import apis

app_name = "collector"

# Ingestion paths take an optional trailing slash: a deployment configured with
# ".../api/v1/logs/" must not lose its logs to a 404.
urlpatterns = [
    path("logs", apis.LogIngestApi.as_view(), name="log-ingest"),
    path("logs/batch", apis.LogBatchIngestApi.as_view(), name="log-batch-ingest"),
    path("logs/", apis.LogIngestApi.as_view(schema=None)),
    path("logs/batch/", apis.LogBatchIngestApi.as_view(schema=None)),
    path("health", apis.HealthApi.as_view(), name="health"),
    path("whoami", apis.WhoamiApi.as_view(), name="whoami"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script as a file: the CSP runs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="collector:schema"), name="docs"),
]
