"""factory_boy factories. Tenant rows take their organization explicitly; the factories run
with scopes disabled because a factory builds state for a test, it is not tenant code."""

from __future__ import annotations

from typing import Any, TypeVar

import factory
from django.contrib.auth import get_user_model
from django_scopes import scopes_disabled

from fleet.geo import square_polygon
from fleet.models import Device, Driver, Hub, Vehicle, Zone
from tenancy.models import Membership, Organization, Role

T = TypeVar("T")

PASSWORD = "correct-horse-battery"


class UnscopedFactory(factory.django.DjangoModelFactory[T]):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory[Any]):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class MembershipFactory(UnscopedFactory[Membership]):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.DISPATCHER


class HubFactory(UnscopedFactory[Hub]):
    class Meta:
        model = Hub

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Hub {n}")
    code = factory.Sequence(lambda n: f"hub-{n}")
    latitude = 52.37
    longitude = 4.89


class ZoneFactory(UnscopedFactory[Zone]):
    class Meta:
        model = Zone

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Zone {n}")
    geometry = factory.LazyFunction(lambda: square_polygon(52.37, 4.89, 1.0))


class DriverFactory(UnscopedFactory[Driver]):
    class Meta:
        model = Driver

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Driver {n}")


class VehicleFactory(UnscopedFactory[Vehicle]):
    class Meta:
        model = Vehicle

    organization = factory.SubFactory(OrganizationFactory)
    plate = factory.Sequence(lambda n: f"PL-{n:04d}")
    hub = factory.SubFactory(HubFactory, organization=factory.SelfAttribute("..organization"))
    driver = factory.SubFactory(DriverFactory, organization=factory.SelfAttribute("..organization"))
    tags = factory.LazyFunction(lambda: ["standard"])


class DeviceFactory(UnscopedFactory[Device]):
    class Meta:
        model = Device

    organization = factory.SubFactory(OrganizationFactory)
    identifier = factory.Sequence(lambda n: f"dev-{n:05d}")
    vehicle = factory.SubFactory(
        VehicleFactory, organization=factory.SelfAttribute("..organization")
    )
    token = "device-secret"

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        token = kwargs.pop("token")
        device = model_class(*args, **kwargs)
        device.set_token(token)
        with scopes_disabled():
            device.save()
        return device
