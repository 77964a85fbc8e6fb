"""Shared fixtures: two fully furnished organizations (A and B) with one user per role."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from fleet.models import Device, Driver, Hub, Vehicle, Zone
from tenancy.models import Organization, Role
from tests.factories import (
    DeviceFactory,
    HubFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    ZoneFactory,
)


@dataclass
class Tenant:
    """An organization with one of everything, and strings that only it contains."""

    organization: Organization
    hub: Hub
    zone: Zone
    driver: Driver
    vehicle: Vehicle
    device: Device
    users: dict[str, Any] = field(default_factory=dict)

    @property
    def markers(self) -> list[str]:
        return [
            self.organization.name,
            self.hub.name,
            self.zone.name,
            self.driver.name,
            self.vehicle.plate,
            self.device.identifier,
        ]

    def objects(self) -> dict[type, Any]:
        """This tenant's object of each model, for URLs that take an id."""
        return {
            Hub: self.hub,
            Zone: self.zone,
            Driver: self.driver,
            Vehicle: self.vehicle,
            Device: self.device,
        }


def build_tenant(label: str) -> Tenant:
    organization = OrganizationFactory(name=f"{label} Logistics Org", slug=f"{label.lower()}-org")
    hub = HubFactory(organization=organization, name=f"{label}hub Depot", code=f"{label.lower()}-hub")
    zone = ZoneFactory(organization=organization, name=f"{label}zone Area", hub=hub)
    device = DeviceFactory(
        organization=organization,
        identifier=f"{label.lower()}dev-0001",
        vehicle__plate=f"{label.upper()}PLATE-01",
        vehicle__hub=hub,
        vehicle__driver__name=f"{label}driver Person",
    )
    with scopes_disabled():
        vehicle = device.vehicle
        driver = vehicle.driver
    tenant = Tenant(organization, hub, zone, driver, vehicle, device)
    for role in Role.values:
        user = UserFactory(username=f"{label.lower()}-{role}")
        MembershipFactory(organization=organization, user=user, role=role)
        tenant.users[role] = user
    return tenant


@pytest.fixture
def tenant_a(db: Any) -> Tenant:
    return build_tenant("Alpha")


@pytest.fixture
def tenant_b(db: Any) -> Tenant:
    return build_tenant("Bravo")


def login(user: Any) -> Client:
    # force_login: the real login form (with its throttling) is exercised by its own tests.
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_for():
    """client_for(tenant, role) -> a Client signed in as that tenant's user of that role."""

    def make(tenant: Tenant, role: str) -> Client:
        return login(tenant.users[role])

    return make
