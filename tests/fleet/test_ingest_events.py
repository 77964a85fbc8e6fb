"""The `positions.flushed` domain event: one per organization per flush that stored new fixes,
committed in the flush's transaction, announcing vehicles and a fix-time range (subscribers
read the fixes from fleet_position)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django_scopes import scopes_disabled

from fleet.ingest.database import conninfo_from_settings
from fleet.ingest.decode import Fix
from fleet.ingest.events import POSITIONS_FLUSHED, RelayNudge
from fleet.ingest.service import IngestService
from fleet.models import Device, Position
from tenancy.outbox import outbox_subscribe
from tenancy.outbox.models import OutboxEvent
from tenancy.outbox.registry import outbox_unsubscribe
from tests.conftest import Tenant, build_tenant
from tests.factories import DeviceFactory
from tests.support.outbox import outbox_relay_now

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

BASE = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)


@pytest.fixture
def tenants(transactional_db: Any) -> tuple[Tenant, Tenant]:
    return build_tenant("Alpha"), build_tenant("Bravo")


@sync_to_async
def second_device(tenant: Tenant, *, with_vehicle: bool = True) -> Device:
    with scopes_disabled():
        extra: dict[str, Any] = {} if with_vehicle else {"vehicle": None}
        return DeviceFactory.create(
            organization=tenant.organization,
            vehicle__hub=tenant.hub,
            **extra,
        )


@sync_to_async
def events() -> list[OutboxEvent]:
    with scopes_disabled():
        return list(OutboxEvent.objects.filter(kind=POSITIONS_FLUSHED).order_by("id"))


@sync_to_async
def stored_count(device: Device) -> int:
    with scopes_disabled():
        return Position.objects.filter(device=device, fix_time__gte=BASE).count()


def fix(device: Device, seconds: int, lat: float = 52.37) -> Fix:
    return Fix(
        device_key=device.identifier,
        fix_time=BASE + dt.timedelta(seconds=seconds),
        latitude=lat,
        longitude=4.89,
        speed_kmh=20.0,
    )


async def send(ingest: IngestService, *batches: list[Fix]) -> list[list[str]]:
    """Every batch as its own request, all at once: they land in the same flush."""
    return list(
        await asyncio.gather(*(ingest.ingest(b, authorized=lambda d, f: True) for b in batches))
    )


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[float, int]] = []

    def __call__(self, organization_id: int) -> None:
        self.calls.append((time.monotonic(), organization_id))

    async def wait_for(self, organizations: set[int], timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while {o for _, o in self.calls} < organizations and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


async def test_one_event_per_organization_per_flush(
    ingest: IngestService, tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, bravo = tenants
    recorder = Recorder()
    ingest.writer.relay_nudge = RelayNudge(enqueue=recorder)
    alpha_two = await second_device(alpha)
    loose = await second_device(alpha, with_vehicle=False)  # a device with no vehicle
    flushes = ingest.writer.flushes

    outcomes = await send(
        ingest,
        [fix(alpha.device, 10), fix(alpha.device, 30)],
        [fix(alpha_two, 5)],
        [fix(loose, 1)],
        [fix(bravo.device, 20)],
    )

    assert outcomes == [["stored", "stored"], ["stored"], ["stored"], ["stored"]]
    assert ingest.writer.flushes == flushes + 1, "the test needs one flush"
    by_org = {event.organization_id: event for event in await events()}
    assert set(by_org) == {alpha.organization.pk, bravo.organization.pk}
    first = by_org[alpha.organization.pk]
    assert (first.kind, first.aggregate, first.aggregate_id) == (
        "positions.flushed",
        "organization",
        alpha.organization.pk,
    )
    assert first.relayed_at is None
    assert first.payload == {
        "vehicle_ids": sorted([alpha.vehicle.pk, alpha_two.vehicle_id or 0]),
        "fix_count": 3,  # the vehicle-less device's fix is stored but announces nothing
        "first_fix_at": (BASE + dt.timedelta(seconds=5)).isoformat(),
        "last_fix_at": (BASE + dt.timedelta(seconds=30)).isoformat(),
    }
    assert by_org[bravo.organization.pk].payload == {
        "vehicle_ids": [bravo.vehicle.pk],
        "fix_count": 1,
        "first_fix_at": (BASE + dt.timedelta(seconds=20)).isoformat(),
        "last_fix_at": (BASE + dt.timedelta(seconds=20)).isoformat(),
    }
    # After the commit each organization's relay is asked for, off the request's path.
    await recorder.wait_for({alpha.organization.pk, bravo.organization.pk})
    assert sorted(o for _, o in recorder.calls) == sorted(by_org)


async def test_a_resent_batch_emits_nothing_for_nothing_new(
    ingest: IngestService, tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = tenants
    ingest.writer.relay_nudge = RelayNudge(enqueue=Recorder())
    batch = [fix(alpha.device, 10), fix(alpha.device, 20)]
    assert await send(ingest, batch) == [["stored", "stored"]]
    assert len(await events()) == 1

    assert await send(ingest, batch) == [["duplicate", "duplicate"]]
    assert len(await events()) == 1, "a re-sent batch announced fixes that were not new"

    # A re-send with one new fix announces that one only.
    assert await send(ingest, [*batch, fix(alpha.device, 25)]) == [
        ["duplicate", "duplicate", "stored"]
    ]
    *_, last = await events()
    assert last.payload["fix_count"] == 1
    assert last.payload["first_fix_at"] == last.payload["last_fix_at"]


async def test_the_event_rolls_back_with_the_fixes(
    ingest: IngestService, tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush fails after the event was written: neither fixes nor event remain."""
    alpha, _ = tenants
    ingest.writer.relay_nudge = RelayNudge(enqueue=Recorder())
    real_upsert = ingest.writer._upsert_states

    async def failing_upsert(*args: Any) -> set[int]:
        raise psycopg.OperationalError("injected: the connection died mid-flush")

    monkeypatch.setattr(ingest.writer, "_upsert_states", failing_upsert)
    with pytest.raises(Exception, match="injected"):
        await send(ingest, [fix(alpha.device, 10)])
    assert await stored_count(alpha.device) == 0
    assert await events() == []

    monkeypatch.setattr(ingest.writer, "_upsert_states", real_upsert)
    assert await send(ingest, [fix(alpha.device, 10)]) == [["stored"]]
    assert [e.payload["fix_count"] for e in await events()] == [1]


async def test_a_subscriber_reads_the_announced_fixes(
    ingest: IngestService, tenants: tuple[Tenant, Tenant]
) -> None:
    """What alerts will do: relay the event, read the vehicles' new fixes from fleet_position
    inside the organization's context (row-level security on)."""
    alpha, bravo = tenants
    ingest.writer.relay_nudge = RelayNudge(enqueue=Recorder())
    seen: list[tuple[dict[str, Any], int]] = []

    def handler(event: OutboxEvent) -> None:
        payload = event.payload
        fixes = Position.objects.filter(
            organization_id=event.organization_id,
            vehicle_id__in=payload["vehicle_ids"],
            fix_time__gte=dt.datetime.fromisoformat(payload["first_fix_at"]),
            fix_time__lte=dt.datetime.fromisoformat(payload["last_fix_at"]),
        ).count()
        seen.append((payload, fixes))

    outbox_subscribe("test-positions", [POSITIONS_FLUSHED], handler)
    try:
        await send(ingest, [fix(alpha.device, 1), fix(alpha.device, 2)], [fix(bravo.device, 3)])
        await sync_to_async(outbox_relay_now)(alpha.organization.pk)
    finally:
        outbox_unsubscribe("test-positions")
    # Alpha's event only: the relay runs inside one organization.
    ((payload, fixes),) = seen
    assert payload["vehicle_ids"] == [alpha.vehicle.pk]
    assert fixes == payload["fix_count"] == 2


async def test_the_ingest_role_may_insert_events_and_nothing_more(
    tenants: tuple[Tenant, Tenant],
) -> None:
    def privileges() -> dict[tuple[str, str], bool]:
        checks = [
            (table, privilege)
            for table in ("tenancy_outboxevent", "tenancy_outboxdelivery")
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")
        ]
        with psycopg.connect(conninfo_from_settings()) as conn:
            return {
                (table, privilege): bool(
                    conn.execute(
                        "SELECT has_table_privilege(current_user, %s, %s)", (table, privilege)
                    ).fetchone()[0]  # type: ignore[index]
                )
                for table, privilege in checks
            }

    granted = {check for check, allowed in (await asyncio.to_thread(privileges)).items() if allowed}
    assert granted == {("tenancy_outboxevent", "INSERT")}


async def test_relay_nudges_are_coalesced_per_organization() -> None:
    recorder = Recorder()
    nudge = RelayNudge(min_gap=0.2, enqueue=recorder)
    started = time.monotonic()
    for _ in range(20):  # twenty flushes of organization 1 within 0.1 s
        nudge.request({1})
        await asyncio.sleep(0.005)
    asked_for_two = time.monotonic() - started
    nudge.request({2})
    await asyncio.sleep(0.5)
    ones = [at - started for at, organization in recorder.calls if organization == 1]
    twos = [at - started for at, organization in recorder.calls if organization == 2]
    # The first at once, one trailing nudge for the rest after the gap; 2 is not held up.
    assert len(ones) == 2 and ones[0] < 0.1 and 0.19 <= ones[1] - ones[0] < 0.4, ones
    assert len(twos) == 1 and twos[0] - asked_for_two < 0.05, (twos, asked_for_two)
