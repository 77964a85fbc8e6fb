"""Time-based tracking upkeep: offline detection (also through a real Celery worker) and the
position partitions."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from fleet.live.schema import live_group
from fleet.maintenance import vehicle_states_mark_offline
from fleet.models import VehicleState
from fleet.partitions import (
    existing_partitions,
    partition_name,
    partitions_drop_expired,
    partitions_ensure,
)
from tests.conftest import Tenant
from tests.support.celery import CeleryWorker


def make_state(tenant: Tenant, *, minutes_ago: float, status: str = "moving") -> None:
    fix_time = timezone.now() - dt.timedelta(minutes=minutes_ago)
    with scopes_disabled():
        VehicleState.objects.create(
            organization=tenant.organization, vehicle=tenant.vehicle, device=tenant.device,
            fix_time=fix_time, server_time=fix_time, latitude=52.37, longitude=4.89,
            speed_kmh=30, status=status,
        )  # fmt: skip


def status_of(tenant: Tenant) -> str:
    with scopes_disabled():
        return VehicleState.objects.get(vehicle=tenant.vehicle).status


@pytest.mark.django_db(transaction=True)
def test_silent_vehicle_goes_offline_and_screens_hear_of_it(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_state(tenant_a, minutes_ago=11)  # default threshold: 10 minutes
    make_state(tenant_b, minutes_ago=2)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live_group(tenant_a.organization.pk), channel)
    assert vehicle_states_mark_offline() == 1
    assert status_of(tenant_a) == "offline"
    assert status_of(tenant_b) == "moving"
    message = async_to_sync(layer.receive)(channel)
    assert [(v["id"], v["status"]) for v in message["vehicles"]] == [
        (tenant_a.vehicle.pk, "offline")
    ]
    assert vehicle_states_mark_offline() == 0  # already offline: nothing to announce again


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_runs_the_offline_task(
    tenant_a: Tenant, celery_worker: CeleryWorker
) -> None:
    from fleet.tasks import mark_offline

    make_state(tenant_a, minutes_ago=30)
    mark_offline.delay()
    celery_worker.wait_for(lambda: status_of(tenant_a) == "offline", "the offline task to run")


@pytest.mark.django_db
def test_partitions_are_created_ahead_and_dropped_after_retention() -> None:
    today = dt.date(2031, 3, 10)
    created = partitions_ensure(today=today, days_back=0, days_ahead=2)
    assert created == [partition_name(today + dt.timedelta(days=d)) for d in range(3)]
    assert partitions_ensure(today=today, days_back=0, days_ahead=2) == []  # idempotent
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO fleet_position (device_id, organization_id, fix_time, server_time, "
            "latitude, longitude) VALUES (1, 1, '2031-03-11 08:00+00', now(), 1, 1)"
        )
        cursor.execute("SELECT count(*) FROM fleet_position_p20310311")
        assert cursor.fetchone()[0] == 1  # the row went to its day's partition
    dropped = partitions_drop_expired(retention_days=1, today=dt.date(2031, 3, 13))
    assert partition_name(dt.date(2031, 3, 11)) in dropped
    assert partition_name(dt.date(2031, 3, 12)) not in dropped
    assert partition_name(dt.date(2031, 3, 12)) in existing_partitions()
