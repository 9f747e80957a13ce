"""Factories for the dashboard's models; the collector's come from collector.tests.factories."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from collector.tests.factories import ClientFactory
from dashboard.models import Membership, SavedView

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.LazyAttribute(lambda o: o.email)
    is_staff = False

    @factory.post_generation
    def password(obj, create: bool, extracted: str | None, **kwargs: object) -> None:
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    client = factory.SubFactory(ClientFactory)


class SavedViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedView

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"view {n}")
    query = "status=FAILED"
    created_by = None
