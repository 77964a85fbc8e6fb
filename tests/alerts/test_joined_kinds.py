"""The two kinds that join a stop's state with the vehicle's telematics: `arrived_not_near`
(event: `stop.arrived` with no position near the address around the arrival) and
`idle_while_late_risk` (sweep: the route's vehicle standing while its next stop is at late
risk). Pure decisions on crafted values first, then each kind through its runner: the stop
event through the outbox relay's subscriber, the route through the organization sweep,
episode start and end included."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.evaluation.events import arrived_not_near_holds, closest_approach_m
from alerts.evaluation.scheduled import idle_while_late_risk_holds, organization_sweep
from alerts.models import Alert
from alerts.services.actions import alert_resolve
from deliveries.models import DeliveryEvent, Order, OrderStatus, Route, Stop
from deliveries.services.routes import stop_arrive
from fleet.models import VehicleState
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.alerts.support import alerts_of, at, outbox_kinds, positions_insert, rule_create
from tests.alerts.tracks import ORIGIN, drive, offset
from tests.conftest import Tenant
from tests.support.outbox import outbox_relay_now

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
IDLE, STOPPED, MOVING = (
    VehicleState.Status.IDLE, VehicleState.Status.STOPPED, VehicleState.Status.MOVING,
)  # fmt: skip


# -- pure ---------------------------------------------------------------------------------------


def test_closest_approach_of_a_crafted_track() -> None:
    # A van passing 300 m north of the address, then turning away.
    track = [offset(300, east) for east in (-600, -300, 0, 300)] + [offset(900, 600)]
    closest = closest_approach_m(lat=ORIGIN[0], lon=ORIGIN[1], points=track)
    assert closest == pytest.approx(300, abs=1)
    assert closest_approach_m(lat=ORIGIN[0], lon=ORIGIN[1], points=[]) is None


@pytest.mark.parametrize(
    ("closest_m", "holds"),
    [(None, False), (0.0, False), (150.0, False), (200.0, False), (200.5, True), (2500.0, True)],
)
def test_arrived_not_near_holds_only_beyond_the_distance(
    closest_m: float | None, holds: bool
) -> None:
    # None: no positions around the arrival prove nothing (a phone-only driver), so quiet.
    assert arrived_not_near_holds(closest_m=closest_m, distance_m=200) is holds


@pytest.mark.parametrize(
    ("status", "standing_minutes", "late_risk", "holds"),
    [
        (IDLE, 6, True, True),
        (STOPPED, 5, True, True),  # exactly N minutes counts
        (IDLE, 4.9, True, False),  # not long enough yet
        (MOVING, 30, True, False),  # driving to the stop
        (IDLE, 30, False, False),  # the next stop is not at risk
        (IDLE, 30, None, False),  # no stop left to reach
        (IDLE, None, True, False),  # never stationary (no since)
    ],
)
def test_idle_while_late_risk_holds(
    status: str, standing_minutes: float | None, late_risk: bool | None, holds: bool
) -> None:
    since = None if standing_minutes is None else NOW - dt.timedelta(minutes=standing_minutes)
    result = idle_while_late_risk_holds(
        status=status, stationary_since=since, next_stop_late_risk=late_risk, now=NOW,
        idle_minutes=5,
    )  # fmt: skip
    assert result is holds


# -- through the runners ------------------------------------------------------------------------


def _on_the_road(tenant: Tenant) -> Stop:
    """The tenant's route dispatched with its one stop's order out at the address (ORIGIN)."""
    with scopes_disabled():
        Order.objects.filter(pk=tenant.order.pk).update(  # type: ignore[union-attr]
            status=OrderStatus.OUT_FOR_DELIVERY, latitude=ORIGIN[0], longitude=ORIGIN[1]
        )
        Route.objects.filter(organization=tenant.organization).update(
            status=Route.Status.DISPATCHED, vehicle=tenant.vehicle
        )
        return Stop.objects.get(organization=tenant.organization)


def _arrive(tenant: Tenant, stop: Stop, when: dt.datetime) -> None:
    """The driver marks the stop arrived (the real service: it emits `stop.arrived`), then the
    outbox relay hands the event to the alerts' subscriber, as the worker would."""
    organization_id = tenant.organization.pk
    with tenant_context(organization_id):
        stop_arrive(
            organization_id=organization_id, stop_id=stop.pk, source=DeliveryEvent.Source.DRIVER,
            now=when,
        )  # fmt: skip
    outbox_relay_now(organization_id)


@pytest.mark.django_db
def test_arrived_while_the_vehicle_was_2_km_away_opens_and_a_person_resolves(
    tenant_a: Tenant,
) -> None:
    rule_create(tenant_a, "arrived_not_near", params={"distance_m": 200, "around_minutes": 5})
    stop = _on_the_road(tenant_a)
    # Parked 2 km east of the address from 4 minutes before the arrival to 1 minute after.
    positions_insert(tenant_a, drive(start_t=0, seconds=300, kmh=0, start_east_m=2000))
    _arrive(tenant_a, stop, at(240))

    (alert,) = alerts_of(tenant_a)
    assert (alert.kind, alert.subject_type, alert.subject_id) == (
        "arrived_not_near",
        "stop",
        stop.pk,
    )
    assert alert.status == Alert.Status.OPEN and alert.condition_started_at == at(240)
    assert 1950 < alert.details["closest_m"] < 2050 and alert.details["limit_m"] == 200
    assert alert.route_id == stop.route_id and alert.vehicle_id == tenant_a.vehicle.pk
    assert outbox_kinds(tenant_a) == ["alert.opened"]
    outbox_relay_now(tenant_a.organization.pk)  # the event relayed again opens nothing more
    assert len(alerts_of(tenant_a)) == 1

    # The episode ends by a person: nothing in the data says the driver was there after all.
    with tenant_context(tenant_a.organization.pk):
        organization_sweep(organization_id=tenant_a.organization.pk)
    assert alerts_of(tenant_a)[0].status == Alert.Status.OPEN
    with tenant_context(tenant_a.organization.pk):
        alert_resolve(
            organization_id=tenant_a.organization.pk, alert_id=alert.pk,
            actor=tenant_a.users[Role.DISPATCHER], note="Checked with the driver",
        )  # fmt: skip
    (resolved,) = alerts_of(tenant_a)
    assert resolved.status == Alert.Status.RESOLVED and resolved.resolution == "manual"
    assert outbox_kinds(tenant_a)[-1] == "alert.resolved"


@pytest.mark.django_db
def test_arrived_at_the_door_is_quiet(tenant_a: Tenant) -> None:
    rule_create(tenant_a, "arrived_not_near", params={"distance_m": 200, "around_minutes": 5})
    stop = _on_the_road(tenant_a)
    # Drove in from 1 km west and stopped 30 m from the door (the track ends at 30 m east).
    positions_insert(tenant_a, drive(start_t=0, seconds=120, kmh=30, start_east_m=-970))
    _arrive(tenant_a, stop, at(120))
    assert alerts_of(tenant_a) == []
    assert outbox_kinds(tenant_a) == []


def _stands(tenant: Tenant, status: str, since: dt.datetime | None, now: dt.datetime) -> None:
    with scopes_disabled():
        VehicleState.objects.update_or_create(
            vehicle=tenant.vehicle,
            defaults={"organization": tenant.organization, "fix_time": now, "server_time": now,
                      "latitude": 52.38, "longitude": 4.90, "status": status,
                      "stationary_since": since},
        )  # fmt: skip


def _started_with_the_next_stop_at_risk(tenant: Tenant) -> Stop:
    """A rule watching it, the route in progress, its next stop flagged late risk."""
    rule_create(tenant, "idle_while_late_risk", params={"idle_minutes": 5})
    stop = _on_the_road(tenant)
    with scopes_disabled():
        Route.objects.filter(pk=stop.route_id).update(status=Route.Status.IN_PROGRESS)
        Stop.objects.filter(pk=stop.pk).update(late_risk=True)
    return stop


def _sweep(tenant: Tenant, now: dt.datetime) -> dict[str, int]:
    with tenant_context(tenant.organization.pk):
        return organization_sweep(organization_id=tenant.organization.pk, now=now)


@pytest.mark.django_db
def test_idle_while_late_risk_opens_after_n_minutes_and_resolves_when_the_van_drives(
    tenant_a: Tenant,
) -> None:
    stop, now = _started_with_the_next_stop_at_risk(tenant_a), timezone.now()
    standing_since = now - dt.timedelta(minutes=3)
    _stands(tenant_a, IDLE, standing_since, now)
    _sweep(tenant_a, now)
    assert alerts_of(tenant_a) == []  # idle 3 minutes: not yet

    _sweep(tenant_a, now + dt.timedelta(minutes=3))  # idle 6 minutes now
    (alert,) = alerts_of(tenant_a)
    assert (alert.kind, alert.subject_type, alert.subject_id) == (
        "idle_while_late_risk", "route", stop.route_id,
    )  # fmt: skip
    assert alert.condition_started_at == standing_since
    assert alert.details["next_order"] == tenant_a.order.reference  # type: ignore[union-attr]
    assert alert.details["idle_minutes"] == 6 and alert.vehicle_id == tenant_a.vehicle.pk
    _sweep(tenant_a, now + dt.timedelta(minutes=4))
    assert len(alerts_of(tenant_a)) == 1  # still one episode

    # The van drives on: the episode ends by itself.
    _stands(tenant_a, MOVING, None, now + dt.timedelta(minutes=5))
    _sweep(tenant_a, now + dt.timedelta(minutes=5))
    (resolved,) = alerts_of(tenant_a)
    assert resolved.status == Alert.Status.RESOLVED and resolved.resolution != "manual"
    kinds = outbox_kinds(tenant_a)
    assert kinds[0] == "alert.opened" and kinds[-1] == "alert.resolved"
    assert kinds.count("alert.opened") == 1 and kinds.count("alert.resolved") == 1


@pytest.mark.django_db
def test_idle_while_late_risk_ends_when_the_next_stop_is_no_longer_at_risk(
    tenant_a: Tenant,
) -> None:
    stop, now = _started_with_the_next_stop_at_risk(tenant_a), timezone.now()
    _stands(tenant_a, STOPPED, now - dt.timedelta(minutes=10), now)
    _sweep(tenant_a, now)
    assert [a.status for a in alerts_of(tenant_a)] == [Alert.Status.OPEN]
    with scopes_disabled():
        Stop.objects.filter(pk=stop.pk).update(late_risk=False)  # the ETA refresh says on time
    _sweep(tenant_a, now + dt.timedelta(seconds=30))
    assert [a.status for a in alerts_of(tenant_a)] == [Alert.Status.RESOLVED]
    # A route not in progress is not watched at all (dispatched, not started: route_not_started).
    with scopes_disabled():
        Stop.objects.filter(pk=stop.pk).update(late_risk=True)
        Route.objects.filter(pk=stop.route_id).update(status=Route.Status.DISPATCHED)
    _sweep(tenant_a, now + dt.timedelta(minutes=1))
    assert len(alerts_of(tenant_a)) == 1
