"""The demo tenants: two organizations in two cities, so tenant isolation is visible on first run.

Each has hubs, zones, one login per role (plus a hub-scoped dispatcher and one dispatcher shared by
both), vehicles with drivers and trackers. Their orders and routes are demo/orders.py's; demo/seed.py
puts the two together."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from fleet.geo import square_polygon
from fleet.models import Device, Driver, Hub, Vehicle, Zone
from tenancy.context import operator_context, tenant_context
from tenancy.models import Membership, Organization, Role

from .simulator.roads import network_for_hub, service_area_geojson

DEMO_PASSWORD = "doorstep-demo"  # noqa: S105 - published demo credential, demo data only
DEMO_DEVICE_TOKEN = "demo-device-token"  # noqa: S105


@dataclass(frozen=True)
class HubSpec:
    code: str
    name: str
    region: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class OrganizationSpec:
    slug: str
    name: str
    prefix: str
    timezone: str
    hubs: tuple[HubSpec, ...]
    vehicle_count: int


DEMO_ORGANIZATIONS = (
    OrganizationSpec(
        slug="northwind",
        name="Northwind Parcels",
        prefix="nw",
        timezone="Europe/Amsterdam",
        hubs=(
            HubSpec("ams-west", "Amsterdam West", "Noord-Holland", 52.3720, 4.8360),
            HubSpec("ams-east", "Amsterdam Oost", "Noord-Holland", 52.3600, 4.9400),
        ),
        vehicle_count=30,
    ),
    OrganizationSpec(
        slug="southbay",
        name="Southbay Couriers",
        prefix="sb",
        timezone="Europe/Lisbon",
        hubs=(
            HubSpec("lis-centro", "Lisboa Centro", "Lisboa", 38.7223, -9.1393),
            HubSpec("lis-belem", "Belém", "Lisboa", 38.6979, -9.2060),
        ),
        vehicle_count=20,
    ),
)

VEHICLE_TAGS = (["express"], ["standard"], ["cold"], ["standard", "large"], ["express", "cold"])
DRIVER_NAMES = (
    "Ana",
    "Bram",
    "Chloé",
    "Daan",
    "Emre",
    "Fatima",
    "Gijs",
    "Hana",
    "Ivo",
    "Joana",
    "Kees",
    "Lotte",
    "Miguel",
    "Noor",
    "Omar",
    "Pim",
    "Quinn",
    "Rita",
    "Sem",
    "Tess",
)


def demo_service_area(hub: Hub, hubs: list[Hub]) -> dict[str, object]:
    """The hub's service area: the simulated road network's extent plus a margin, so the demo
    fleet leaves it only when the scenario (demo/scenario.py) sends a van out on purpose."""
    return service_area_geojson(network_for_hub(hub, [h for h in hubs if h.pk != hub.pk]))


# The shape the first demo seeds gave every service area: a 3 km square around the hub, which
# the road network (up to ~3.9 km out) crossed all day. demo_seed replaces it (demo/seed.py).
def legacy_service_area(hub: Hub) -> dict[str, object]:
    return square_polygon(hub.latitude, hub.longitude, 3.0)


def demo_username(spec: OrganizationSpec, role: str) -> str:
    return f"{spec.prefix}-{role}"


def demo_email(username: str) -> str:
    """A demo login's address: alert emails to it land in `make run`'s mail sink."""
    return f"{username}@demo.doorstep.example"


def _seed_organization(spec: OrganizationSpec, rng: random.Random) -> Organization:
    User = get_user_model()
    organization = Organization.objects.create(
        name=spec.name, slug=spec.slug, timezone=spec.timezone
    )
    with tenant_context(organization):
        hubs = [
            Hub.objects.create(
                organization=organization,
                code=h.code,
                name=h.name,
                region=h.region,
                latitude=h.latitude,
                longitude=h.longitude,
            )
            for h in spec.hubs
        ]
        for hub in hubs:
            Zone.objects.create(
                organization=organization,
                name=f"{hub.name} service area",
                kind=Zone.Kind.SERVICE_AREA,
                hub=hub,
                geometry=demo_service_area(hub, hubs),
            )
            Zone.objects.create(
                organization=organization,
                name=f"{hub.name} yard",
                kind=Zone.Kind.GEOFENCE,
                hub=hub,
                geometry=square_polygon(hub.latitude, hub.longitude, 0.25),
                color="#0ea5e9",
            )
        for role in Role.values:
            user = User.objects.create_user(
                username=demo_username(spec, role),
                password=DEMO_PASSWORD,
                first_name=f"{spec.name.split()[0]} {role.title()}",
                email=demo_email(demo_username(spec, role)),
            )
            Membership.objects.create(organization=organization, user=user, role=role)
        # A dispatcher who only runs the first hub: hub scope in action.
        scoped = User.objects.create_user(
            username=f"{spec.prefix}-dispatcher-{hubs[0].code}", password=DEMO_PASSWORD
        )
        membership = Membership.objects.create(
            organization=organization, user=scoped, role=Role.DISPATCHER
        )
        membership.hubs.set([hubs[0]])
        # One person who dispatches for both demo organizations and switches between them.
        shared, created = User.objects.get_or_create(username="regional-dispatcher")
        if created:
            shared.set_password(DEMO_PASSWORD)
            shared.save()
        Membership.objects.create(organization=organization, user=shared, role=Role.DISPATCHER)

        driver_user = User.objects.get(username=demo_username(spec, Role.DRIVER))
        for number in range(1, spec.vehicle_count + 1):
            hub = hubs[number % len(hubs)]
            driver = Driver.objects.create(
                organization=organization,
                name=f"{DRIVER_NAMES[number % len(DRIVER_NAMES)]} {spec.prefix.upper()}{number:02d}",
                phone=f"+31 6 {rng.randint(10000000, 99999999)}",
                hub=hub,
                user=driver_user if number == 1 else None,
            )
            vehicle = Vehicle.objects.create(
                organization=organization,
                plate=f"{spec.prefix.upper()}-{number:03d}",
                name=f"Van {number}",
                hub=hub,
                driver=driver,
                tags=VEHICLE_TAGS[number % len(VEHICLE_TAGS)],
                type=Vehicle.Type.CARGO_BIKE if number % 7 == 0 else Vehicle.Type.VAN,
            )
            device = Device(
                organization=organization,
                identifier=f"{spec.prefix}-{number:03d}",
                name=f"Tracker {vehicle.plate}",
                vehicle=vehicle,
            )
            device.set_token(DEMO_DEVICE_TOKEN)
            device.save()
    return organization


@transaction.atomic
def demo_tenants_seed() -> list[Organization]:
    """Create the superuser and the demo organizations that do not exist yet; returns those."""
    rng = random.Random(7)
    created = []
    with operator_context():
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD)
        for spec in DEMO_ORGANIZATIONS:
            if not Organization.objects.filter(slug=spec.slug).exists():
                created.append(_seed_organization(spec, rng))
    return created


def demo_organizations() -> list[Organization]:
    """The demo organizations present in the database."""
    return list(Organization.objects.filter(slug__in=[spec.slug for spec in DEMO_ORGANIZATIONS]))


def demo_logins() -> list[tuple[str, str, str]]:
    rows = [("admin", "superuser (all organizations)", DEMO_PASSWORD)]
    for spec in DEMO_ORGANIZATIONS:
        for role in Role.values:
            rows.append((demo_username(spec, role), f"{role} — {spec.name}", DEMO_PASSWORD))
        rows.append(
            (
                f"{spec.prefix}-dispatcher-{spec.hubs[0].code}",
                f"dispatcher of {spec.hubs[0].name} only — {spec.name}",
                DEMO_PASSWORD,
            )
        )
    rows.append(
        ("regional-dispatcher", "dispatcher in both organizations (switcher)", DEMO_PASSWORD)
    )
    return rows
