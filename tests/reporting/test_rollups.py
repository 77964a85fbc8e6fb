"""Daily vehicle rollups: recomputed from raw fixes and compared exactly, idempotent, the
organization's local day (DST included), the command, the task, and tenant isolation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_scopes import scopes_disabled

from reporting.models import DailyVehicleRollup, HistorySettings
from reporting.rollups import rollup_values, speeding_events_count
from reporting.tasks import rollups_compute_day, rollups_compute_yesterday
from reporting.trips import DetectionSettings, Fix
from tests.conftest import Tenant
from tests.factories import DeviceFactory
from tests.reporting.positions import positions_insert
from tests.reporting.tracks import TrackBuilder, delivery_day

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
DAY = dt.date(2026, 6, 10)
FIELDS = [
    "fixes",
    "first_fix_at",
    "last_fix_at",
    "distance_m",
    "moving_seconds",
    "idle_seconds",
    "stopped_seconds",
    "trips",
    "stops",
    "max_speed_kmh",
    "speeding_events",
    "shift_seconds",
]


def midnight(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time.min, tzinfo=AMSTERDAM).timestamp()


def stored(tenant: Tenant, day: dt.date = DAY) -> dict[int, dict[str, object]]:
    with scopes_disabled():
        rows = DailyVehicleRollup.objects.filter(organization=tenant.organization, day=day)
        return {row.vehicle_id: {f: getattr(row, f) for f in FIELDS} for row in rows}


def test_speeding_counts_episodes_not_fixes() -> None:
    speeds = [50, 95, 97, 96, 60, 99, 40]
    fixes = [Fix(i * 10.0, 52.0, 4.0, s) for i, s in enumerate(speeds)]
    assert speeding_events_count(fixes, threshold_kmh=90, gap_seconds=600) == 2
    # A data gap ends an episode: the fast fix after it is a new one.
    fixes = [Fix(0, 52, 4, 95.0), Fix(10, 52, 4, 96.0), Fix(2000, 52, 4, 97.0)]
    assert speeding_events_count(fixes, threshold_kmh=90, gap_seconds=600) == 2


def test_a_hand_computed_day() -> None:
    """Parked 10 min (engine off), 10 min at 36 km/h due east, parked 10 min: by hand,
    180 fixes, one trip of 6 km from the last parked fix (600 s) to the first parked fix after
    it (1,210 s), two stops (10 s -> 600 s and 1,210 s -> 1,800 s), nothing idle."""
    track = (
        TrackBuilder(timestamp=0.0)
        .park(600, ignition=False)
        .drive(600, ignition=True)
        .park(600, ignition=False)
    )
    values = rollup_values(track.fixes, DetectionSettings(), speeding_kmh=30)
    assert values["fixes"] == 180
    assert values["trips"] == 1 and values["stops"] == 2
    assert values["moving_seconds"] == 610
    assert values["stopped_seconds"] == 590 + 590
    assert values["idle_seconds"] == 0
    assert values["distance_m"] == pytest.approx(6000, abs=1)
    assert values["max_speed_kmh"] == 36
    assert values["speeding_events"] == 1  # one run above 30 km/h


@pytest.mark.django_db
def test_recomputing_a_day_from_raw_fixes_matches_exactly(tenant_a: Tenant) -> None:
    tenant_a.organization.timezone = "Europe/Amsterdam"
    tenant_a.organization.save(update_fields=["timezone"])
    with scopes_disabled():
        HistorySettings.objects.create(organization=tenant_a.organization, speeding_kmh=45)
    second = DeviceFactory.create(organization=tenant_a.organization, vehicle__hub=tenant_a.hub)
    days = {
        tenant_a.device: delivery_day(midnight(DAY)),
        second: delivery_day(midnight(DAY), every=30),
    }
    for device, track in days.items():
        positions_insert(device, track.fixes)
    # A fix of the next local day (00:05 on the 11th) must not count.
    positions_insert(tenant_a.device, [Fix(midnight(DAY + dt.timedelta(days=1)) + 300, 52, 4)])

    call_command("rollups_recompute", "--org", tenant_a.organization.slug, "--day", "2026-06-10")

    settings = dataclasses.replace(DetectionSettings())
    expected = {
        device.vehicle_id: rollup_values(track.fixes, settings, speeding_kmh=45)
        for device, track in days.items()
    }
    assert stored(tenant_a) == expected
    assert expected[tenant_a.vehicle.pk]["fixes"] == 8640

    # Idempotent: again, the same rows (and no more of them).
    rollups_compute_day.apply(args=[tenant_a.organization.pk, "2026-06-10"]).get()
    assert stored(tenant_a) == expected
    with scopes_disabled():
        assert DailyVehicleRollup.objects.filter(organization=tenant_a.organization).count() == 2

    # A vehicle whose fixes are gone (retention, a correction) loses its row on recompute.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM fleet_position WHERE device_id = %s", [second.pk])
    rollups_compute_day.apply(args=[tenant_a.organization.pk, "2026-06-10"]).get()
    assert list(stored(tenant_a)) == [tenant_a.vehicle.pk]


@pytest.mark.django_db
def test_the_rollup_day_is_the_organizations_local_day_across_dst(tenant_a: Tenant) -> None:
    tenant_a.organization.timezone = "Europe/Amsterdam"
    tenant_a.organization.save(update_fields=["timezone"])
    start = dt.datetime(2026, 3, 28, 22, 0, tzinfo=dt.UTC).timestamp()
    fixes = [Fix(start + 600 * i, 52.37, 4.89, 0.0, False) for i in range(6 * 26)]
    positions_insert(tenant_a.device, fixes)
    rollups_compute_day.apply(args=[tenant_a.organization.pk, "2026-03-29"]).get()
    row = stored(tenant_a, dt.date(2026, 3, 29))[tenant_a.vehicle.pk]
    assert row["fixes"] == 23 * 6  # 23:00 UTC on the 28th to 22:00 UTC on the 29th
    assert row["first_fix_at"] == dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC)
    assert row["stops"] == 1 and row["trips"] == 0


@pytest.mark.django_db
def test_an_organizations_rollup_task_touches_only_its_own_rows(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    for tenant in (tenant_a, tenant_b):
        positions_insert(tenant.device, delivery_day(midnight(DAY), hours=12).fixes)
    rollups_compute_day.apply(args=[tenant_a.organization.pk, DAY.isoformat()]).get()
    assert list(stored(tenant_a)) == [tenant_a.vehicle.pk]
    assert stored(tenant_b) == {}
    with scopes_disabled():
        assert not DailyVehicleRollup.objects.exclude(organization=tenant_a.organization).exists()


@pytest.mark.django_db
def test_the_nightly_fan_out_skips_days_already_final(tenant_a: Tenant) -> None:
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    positions_insert(tenant_a.device, delivery_day(midnight(yesterday), hours=12).fixes)
    assert (
        rollups_compute_day.apply(
            args=[tenant_a.organization.pk, yesterday.isoformat()], kwargs={"only_if_stale": True}
        ).get()
        == 1
    )
    # Computed after the day ended: the hourly fan-out leaves it alone from now on.
    assert (
        rollups_compute_day.apply(
            args=[tenant_a.organization.pk, yesterday.isoformat()], kwargs={"only_if_stale": True}
        ).get()
        == 0
    )
    assert rollups_compute_yesterday.apply().get() >= 1


@pytest.mark.django_db
def test_the_command_refuses_bad_input(tenant_a: Tenant) -> None:
    with pytest.raises(CommandError, match="yyyy-mm-dd"):
        call_command("rollups_recompute", "--org", tenant_a.organization.slug, "--day", "June")
    with pytest.raises(CommandError, match="No organization"):
        call_command("rollups_recompute", "--org", "nobody", "--day", "2026-06-10")
