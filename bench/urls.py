from django.urls import path

from bench.reference.apis import BareBatchApi, BareLogApi
from flusso_site.urls import urlpatterns as service_urlpatterns

urlpatterns = [
    path("bench/bare/logs", BareLogApi.as_view()),
    path("bench/bare/logs/batch", BareBatchApi.as_view()),
    *service_urlpatterns,
]
