"""Factories for verdicts; logs and users come from the collector's and dashboard's."""

from __future__ import annotations

import factory

from collector.tests.factories import ClientFactory, WorkflowLogFactory
from dashboard.reviews.models import Verdict, VerdictKind
from dashboard.tests.factories import UserFactory


class VerdictFactory(factory.django.DjangoModelFactory):
    """A verdict row on a stored log (its copied fields taken from that log)."""

    class Meta:
        model = Verdict
        exclude = ("log",)

    client = factory.SubFactory(ClientFactory)
    log = factory.SubFactory(WorkflowLogFactory, client=factory.SelfAttribute("..client"))
    log_id = factory.SelfAttribute("log.log_id")
    kind = VerdictKind.CORRECT
    author = factory.SubFactory(UserFactory)
    timestamp = factory.SelfAttribute("log.timestamp")
    environment = factory.SelfAttribute("log.environment")
    workflow_version = factory.SelfAttribute("log.workflow_version")
    status = factory.SelfAttribute("log.status")
    overall_confidence = factory.SelfAttribute("log.overall_confidence")
