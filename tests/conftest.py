"""Shared fixtures: two fully furnished organizations (A and B) with one user per role."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.models import Alert, AlertRule, Holiday
from deliveries.models import Order
from fleet.models import (
    Device,
    Driver,
    Hub,
    RejectedFix,
    SavedView,
    TrackingSettings,
    Vehicle,
    Zone,
)
from tenancy.models import Organization, Role
from tests.alerts.factories import alert_open, rule_create
from tests.deliveries.builders import tenant_deliveries_build
from tests.factories import (
    DeviceFactory,
    HubFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    ZoneFactory,
)
from tests.reporting.builders import report_markers, tenant_reports_build
from tests.support.celery import celery_worker  # noqa: F401  (a fixture for every test)

# The server's garbage-collector tuning (config/asgi.py) is for long-running servers, not for
# the test process that imports the ASGI app; Daphne subprocesses of tests inherit this too.
os.environ.setdefault("DOORSTEP_GC_THRESHOLD", "off")


@dataclass
class Tenant:
    """An organization with one of everything, and strings that only it contains."""

    organization: Organization
    hub: Hub
    zone: Zone
    driver: Driver
    vehicle: Vehicle
    device: Device
    saved_view: SavedView
    tracking_settings: TrackingSettings
    rejected_fix: RejectedFix
    users: dict[str, Any] = field(default_factory=dict)
    # Alerts: one rule and one holiday (what tenant admins configure).
    alert_rule: AlertRule | None = None
    holiday: Holiday | None = None
    # Deliveries: one order (tracked by its markers) and one row of each other delivery model.
    order: Order | None = None
    delivery_objects: dict[type, Any] = field(default_factory=dict)
    # Reports: one schedule and one finished run with its file (tests/reporting/builders.py).
    report_objects: dict[type, Any] = field(default_factory=dict)
    # And one open alert (with a rule of its own), built on first use (alerts_build) so that
    # the tenants of tests that are not about the inbox stay as they were.
    alert: Alert | None = None

    def alerts_build(self) -> Tenant:
        if self.alert is None:
            label = self.organization.name.split(" ", 1)[0]
            # Replaces the disabled setup rule (same name): an enabled one the inbox can show.
            if self.alert_rule is not None:
                self.alert_rule.delete()
            self.alert_rule = rule_create(self.organization.pk, name=f"{label}rule Watch")
            self.alert = alert_open(
                self.organization.pk, rule=self.alert_rule, title=f"{label}alert Speeding",
                hub_id=self.hub.pk, vehicle_id=self.vehicle.pk, emit=False,
            )  # fmt: skip
        return self

    def alert_ids(self) -> tuple[int, int]:
        self.alerts_build()
        assert self.alert is not None and self.alert_rule is not None
        return self.alert.pk, self.alert_rule.pk

    @property
    def markers(self) -> list[str]:
        return [
            self.organization.name,
            self.hub.name,
            self.zone.name,
            self.driver.name,
            self.vehicle.plate,
            self.device.identifier,
            self.saved_view.name,
            self.rejected_fix.detail,
            *([self.alert_rule.name] if self.alert_rule else []),
            *(
                [
                    self.order.reference,
                    self.order.tracking_code,
                    self.order.customer_name,
                    self.order.address,
                    self.order.phone,
                ]
                if self.order
                else []
            ),
            *([self.alert.title, self.alert_rule.name] if self.alert and self.alert_rule else []),
            *report_markers(self.organization.name.split(" ", 1)[0], self.report_objects),
        ]

    def objects(self) -> dict[type, Any]:
        """This tenant's object of each model, for URLs that take an id."""
        return {
            Hub: self.hub,
            Zone: self.zone,
            Driver: self.driver,
            Vehicle: self.vehicle,
            Device: self.device,
            SavedView: self.saved_view,
            TrackingSettings: self.tracking_settings,
            RejectedFix: self.rejected_fix,
            AlertRule: self.alert_rule,
            Holiday: self.holiday,
            **self.delivery_objects,
            **self.report_objects,
        }


def build_tenant(label: str) -> Tenant:
    organization = OrganizationFactory.create(
        name=f"{label} Logistics Org", slug=f"{label.lower()}-org"
    )
    hub = HubFactory.create(
        organization=organization, name=f"{label}hub Depot", code=f"{label.lower()}-hub"
    )
    zone = ZoneFactory.create(organization=organization, name=f"{label}zone Area", hub=hub)
    device = DeviceFactory.create(
        organization=organization,
        identifier=f"{label.lower()}dev-0001",
        vehicle__plate=f"{label.upper()}PLATE-01",
        vehicle__hub=hub,
        vehicle__driver__name=f"{label}driver Person",
    )
    users = {}
    for role in Role.values:
        user = UserFactory.create(username=f"{label.lower()}-{role}")
        MembershipFactory.create(organization=organization, user=user, role=role)
        users[role] = user
    with scopes_disabled():
        vehicle = device.vehicle
        assert vehicle is not None and vehicle.driver is not None
        driver = vehicle.driver
        saved_view = SavedView.objects.create(
            organization=organization,
            owner=users[Role.DISPATCHER],
            name=f"{label}view Shared",
            shared=True,
            filters={"status": ["moving"]},
        )
        tracking_settings = TrackingSettings.objects.create(organization=organization)
        rejected_fix = RejectedFix.objects.create(
            organization=organization,
            device=device,
            received_at=timezone.now(),
            reason=RejectedFix.Reason.NULL_ISLAND,
            detail=f"{label}refusal detail",
        )
        # Disabled: tests of evaluation build the rules they mean.
        alert_rule = AlertRule.objects.create(
            organization=organization, name=f"{label}rule Watch", kind="speeding", enabled=False
        )
        holiday = Holiday.objects.create(
            organization=organization, date=dt.date(2026, 12, 25), name=f"{label}holiday Day"
        )
    order, delivery_objects = tenant_deliveries_build(label, organization, hub, vehicle, driver)
    report_objects = tenant_reports_build(label, organization)
    return Tenant(
        organization,
        hub,
        zone,
        driver,
        vehicle,
        device,
        saved_view,
        tracking_settings,
        rejected_fix,
        users,
        alert_rule=alert_rule,
        holiday=holiday,
        order=order,
        delivery_objects=delivery_objects,
        report_objects=report_objects,
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The test database is created and migrated as its owner (which sets up row-level
    security); the tests then connect as the application role, like the servers do. Outside
    every tenant context this process acts as the operator, so fixtures can build two tenants'
    rows; code under test enters its own contexts and meets the policies."""
    from django.conf import settings
    from django.db import connections

    connection = connections["default"]
    owner = {key: connection.settings_dict.get(key) for key in OWNER_KEYS}
    connection.close()
    connection.settings_dict.update(
        USER=settings.DB_APP_USER,
        PASSWORD=os.environ.get("DOORSTEP_DB_APP_PASSWORD", ""),
        DOORSTEP_AS_OWNER=False,
    )
    settings.DOORSTEP_DB_DEFAULT_ACCESS = "operator"
    yield
    connection.close()
    connection.settings_dict.update(owner)


OWNER_KEYS = ("USER", "PASSWORD", "DOORSTEP_AS_OWNER")


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


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Browser tests last: Playwright's sync API leaves an event loop in the main thread, which
    would break the async tests that came after it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
