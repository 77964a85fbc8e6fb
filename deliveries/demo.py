"""Demo orders: failure reasons and about forty orders per organization around its hubs.

Called from the demo seed (tenancy/demo.py). Orders are made through the services, so every
one has a real timeline. Running it again adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from django.utils import timezone
from django_scopes import scope

from fleet.models import Hub
from tenancy.models import Organization

from .models import DeliveryEvent, FailureReason, Order, OrderStatus
from .services import order_create, order_transition

FAILURE_REASONS = (
    ("not_home", "Recipient not at home"),
    ("refused", "Refused by recipient"),
    ("wrong_address", "Address wrong or not found"),
    ("no_access", "No access to the building"),
    ("damaged", "Parcel damaged"),
    ("business_closed", "Business closed"),
)

FIRST_NAMES = ("Ana", "Bas", "Carla", "Dirk", "Eva", "Filipe", "Greta", "Hugo", "Inês", "Jan")
LAST_NAMES = ("de Vries", "Silva", "Jansen", "Costa", "Bakker", "Santos", "Visser", "Pereira")
STREETS = ("Main Street", "Canal Road", "Harbour Lane", "Market Square", "Station Road", "Park Way")

# Where the demo orders stand: a status and the moves that get an order there.
S = OrderStatus
JOURNEYS: tuple[tuple[str, ...], ...] = (
    (),
    (S.ASSIGNED,),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED, S.RETURNED_TO_HUB),
    (S.CANCELLED,),
)


def demo_orders_seed(organization: Organization, *, count: int = 40) -> int:
    """Seed failure reasons and `count` orders; returns how many orders were created."""
    with scope(organization=organization.pk):
        for code, label in FAILURE_REASONS:
            FailureReason.objects.get_or_create(
                organization=organization, code=code, defaults={"label": label}
            )
        if Order.objects.exists():
            return 0
        hubs = list(Hub.objects.order_by("code"))
    if not hubs:
        return 0
    rng = random.Random(f"orders-{organization.slug}")  # the same demo on every machine
    zone = zoneinfo.ZoneInfo(organization.timezone)
    today = timezone.now().astimezone(zone).date()
    for number in range(1, count + 1):
        hub = hubs[number % len(hubs)]
        start_hour = rng.choice((8, 10, 12, 14, 16, 18))
        window_start = dt.datetime.combine(today, dt.time(start_hour), tzinfo=zone)
        # One order in ten has no coordinates yet: it shows up as "needs coordinates".
        located = number % 10 != 0
        order = order_create(
            organization_id=organization.pk,
            hub_id=hub.pk,
            reference=f"{organization.slug[:2].upper()}-{today:%y%m%d}-{number:04d}",
            customer_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            phone=f"+{rng.randint(30, 39)} 6{rng.randint(1000000, 9999999)}",
            email=f"customer{number}@example.com",
            address=f"{rng.randint(1, 240)} {rng.choice(STREETS)}, {hub.region or hub.name}",
            latitude=hub.latitude + rng.uniform(-0.03, 0.03) if located else None,
            longitude=hub.longitude + rng.uniform(-0.045, 0.045) if located else None,
            window_start=window_start,
            window_end=window_start + dt.timedelta(hours=2),
            service_minutes=rng.choice((2, 3, 5, 8)),
            priority=rng.choice((0, 0, 0, 1, 2)),
            weight_kg=round(rng.uniform(0.2, 25), 1),
            volume_l=round(rng.uniform(1, 80), 1),
            source=DeliveryEvent.Source.SYSTEM,
        )
        for to_status in rng.choice(JOURNEYS) if located else ():
            order_transition(
                organization_id=organization.pk,
                order_id=order.pk,
                to_status=to_status,
                actor=None,
                source=DeliveryEvent.Source.SYSTEM,
                reason_code=rng.choice(FAILURE_REASONS)[0] if to_status == S.FAILED else None,
            )
    return count
