"""Per-organization retention of positions and refused fixes: each tenant keeps what its own
tracking settings say, whatever the others keep (shared partitions are dropped only after
the longest retention)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from fleet.maintenance import organization_retention_apply, retention_days_longest
from fleet.models import RejectedFix, TrackingSettings
from tenancy.context import tenant_context
from tests.conftest import Tenant
from tests.support.celery import CeleryWorker

AGES_DAYS = (200, 40, 29, 1)


def keep_days(tenant: Tenant, days: int) -> None:
    with scopes_disabled():
        TrackingSettings.objects.filter(organization=tenant.organization).update(
            position_retention_days=days
        )


def add_history(tenant: Tenant, now: dt.datetime) -> None:
    """A position and a refused fix at each age."""
    with connection.cursor() as cursor:
        for days in AGES_DAYS:
            cursor.execute(
                "INSERT INTO fleet_position (device_id, organization_id, vehicle_id, fix_time, "
                "server_time, latitude, longitude) VALUES (%s, %s, %s, %s, %s, 52.3, 4.8)",
                [
                    tenant.device.pk,
                    tenant.organization.pk,
                    tenant.vehicle.pk,
                    now - dt.timedelta(days=days),
                    now - dt.timedelta(days=days),
                ],
            )
    with scopes_disabled():
        for days in AGES_DAYS:
            when = now - dt.timedelta(days=days)
            RejectedFix.objects.create(
                organization=tenant.organization, device=tenant.device, received_at=when,
                last_seen_at=when, fix_time=when, reason=RejectedFix.Reason.LOW_ACCURACY,
            )  # fmt: skip


def ages(tenant: Tenant, now: dt.datetime) -> tuple[list[int], list[int]]:
    """(position ages, refused-fix ages) in whole days, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT fix_time FROM fleet_position WHERE organization_id = %s ORDER BY fix_time",
            [tenant.organization.pk],
        )
        positions = [round((now - row[0]).total_seconds() / 86400) for row in cursor.fetchall()]
    with scopes_disabled():
        refused = RejectedFix.objects.filter(
            organization=tenant.organization, fix_time__isnull=False
        )
        refusals = sorted(
            (round((now - r.received_at).total_seconds() / 86400) for r in refused), reverse=True
        )
    return positions, refusals


@pytest.mark.django_db
def test_each_organization_keeps_its_own_retention(tenant_a: Tenant, tenant_b: Tenant) -> None:
    now = timezone.now()
    keep_days(tenant_a, 30)
    keep_days(tenant_b, 365)
    add_history(tenant_a, now)
    add_history(tenant_b, now)
    with tenant_context(tenant_a.organization.pk):
        result = organization_retention_apply(
            organization_id=tenant_a.organization.pk, now=now, batch=1
        )  # a batch of one row: the loop over batches is exercised too
    # report_runs: the report archive's retention hook (reporting), nothing that old here.
    assert result == {"retention_days": 30, "positions": 2, "refusals": 2, "report_runs": 0}
    with tenant_context(tenant_b.organization.pk):
        organization_retention_apply(organization_id=tenant_b.organization.pk, now=now)
    assert ages(tenant_a, now) == ([29, 1], [29, 1])
    assert ages(tenant_b, now) == ([200, 40, 29, 1], [200, 40, 29, 1])
    # Partitions are shared: they are dropped only after the longest retention.
    assert retention_days_longest() == 365


@pytest.mark.django_db
def test_retention_can_be_one_day_and_not_zero(tenant_a: Tenant) -> None:
    from django.core.exceptions import ValidationError
    from django_scopes import scope

    settings = tenant_a.tracking_settings
    with scope(organization=tenant_a.organization):
        settings.position_retention_days = 1
        settings.full_clean()  # the old floor of 90 days is gone
        settings.position_retention_days = 0
        with pytest.raises(ValidationError, match="position_retention_days"):
            settings.full_clean()


@pytest.mark.django_db(transaction=True)
def test_beat_task_fans_out_one_retention_task_per_organization(
    tenant_a: Tenant, tenant_b: Tenant, celery_worker: CeleryWorker
) -> None:
    from fleet.tasks import maintain_position_partitions

    now = timezone.now()
    keep_days(tenant_a, 30)
    keep_days(tenant_b, 365)
    add_history(tenant_a, now)
    add_history(tenant_b, now)
    maintain_position_partitions.delay()
    celery_worker.wait_for(
        lambda: ages(tenant_a, now) == ([29, 1], [29, 1]) or None,
        "organization A's retention task to delete its old rows",
    )
    assert ages(tenant_b, now) == ([200, 40, 29, 1], [200, 40, 29, 1])
