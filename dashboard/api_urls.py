"""The read API's routes, mounted under /api/v1/ beside the collector's (flusso_site/urls.py)."""

from django.urls import path

from dashboard import apis

app_name = "readapi"

urlpatterns = [
    path("stats", apis.StatsApi.as_view(), name="stats"),
    # After the collector's routes: "logs/batch" stays the batch endpoint.
    path("logs/<str:log_id>", apis.LogReadApi.as_view(), name="log"),
    # A trailing slash reaches the same answer, as on the ingestion paths.
    path("stats/", apis.StatsApi.as_view(schema=None)),
    path("logs/<str:log_id>/", apis.LogReadApi.as_view(schema=None)),
]
