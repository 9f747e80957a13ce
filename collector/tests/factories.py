"""factory_boy factories for the collector's models, shared by every app's tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from collector.keys import key_generate
from collector.models import ApiKey, Client, LogStatus, WorkflowLog
from collector.services import logs_store


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Client {n}")
    slug = factory.Sequence(lambda n: f"client-{n}")
    is_active = True


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A key row; the full key is on the instance as ``raw_key`` (never stored)."""

    class Meta:
        model = ApiKey

    client = factory.SubFactory(ClientFactory)
    label = "test"

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, **kwargs: Any) -> ApiKey:
        raw_key, prefix, secret_hash = key_generate()
        api_key = super()._create(
            model_class, *args, prefix=prefix, secret_hash=secret_hash, **kwargs
        )
        api_key.raw_key = raw_key  # type: ignore[attr-defined]
        return api_key


class WorkflowLogFactory(factory.django.DjangoModelFactory):
    """A stored log, written as the service writes logs: with its receipt and rollups."""

    class Meta:
        model = WorkflowLog

    client = factory.SubFactory(ClientFactory)
    log_id = factory.LazyFunction(uuid.uuid4)
    ticket_id = factory.Sequence(lambda n: str(40000 + n))
    environment = "production"
    status = LogStatus.SUCCESS
    workflow_version = "v1.0"
    timestamp = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    received_at = factory.LazyFunction(timezone.now)
    execution_time_seconds = 4.5
    react_iterations = 3
    overall_confidence = 0.8
    hallucination_risk = 0.1
    product_confidence = 0.9
    vision_matches = 2
    text_matches = 5
    document = factory.LazyAttribute(
        lambda o: {
            "log_id": str(o.log_id),
            "ticket_id": o.ticket_id,
            "status": o.status,
            "environment": o.environment,
            "metrics": {"overall_confidence": o.overall_confidence},
            "trace": {},
        }
    )

    @classmethod
    def _create(cls, model_class: type[WorkflowLog], *args: Any, **kwargs: Any) -> WorkflowLog:
        log = model_class(*args, **kwargs)
        stored = logs_store(client_id=log.client_id, logs=[log])
        assert stored, f"log_id {log.log_id} was stored before"
        return log


def log_document(**overrides: Any) -> dict[str, Any]:
    """A valid log document in the collector's schema, as the shipper sends it."""
    document: dict[str, Any] = {
        "log_id": str(uuid.uuid4()),
        "schema_version": "1.0",
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
        "trace": {
            "ticket": {"id": "12345", "requester_email": "sha256:0a9b8c7d6e5f4a3b"},
            "react": {"iterations": [{"iteration": 1, "thought": "Identify the faucet."}]},
        },
    }
    document.update(overrides)
    return document
