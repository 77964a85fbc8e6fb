"""Alerts' tasks in the cross-tenant harness: each tenant task, run for organization A with
organization B's ids, reads and changes nothing of B's. A new `alerts.*` task that takes an
organization must be listed here (the coverage test fails otherwise)."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.models import Alert, AlertRule, EvaluationState
from fleet.models import VehicleState
from tests.alerts.support import at, positions_insert
from tests.alerts.tracks import drive
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

# task name -> kwargs for organization A's run that name B's things
FOREIGN_TASK_KWARGS: dict[str, Callable[[Tenant, Tenant], dict[str, Any]]] = {
    "alerts.evaluate_positions": lambda a, b: {
        "organization_id": a.organization.pk,
        "vehicle_ids": [b.vehicle.pk],
        "since": at(0).isoformat(),
    },
    "alerts.sweep_organization": lambda a, b: {"organization_id": a.organization.pk},
}


# The notification tasks take a notification key with the organization: their foreign-id test
# is tests/tenancy/test_cross_tenant.py::test_alert_notification_tasks_act_for_their_organization_only.
COVERED_IN_TEST_CROSS_TENANT = {
    "alerts.notification_send",
    "alerts.notifications_tick_organization",
}


def alerts_tenant_tasks() -> set[str]:
    from config.celery import app

    app.loader.import_default_modules()
    return {
        name for name, task in app.tasks.items()
        if name.startswith("alerts.") and "organization_id" in inspect.signature(task.run).parameters
    }  # fmt: skip


def test_every_alerts_tenant_task_is_covered() -> None:
    missing = alerts_tenant_tasks() - set(FOREIGN_TASK_KWARGS) - COVERED_IN_TEST_CROSS_TENANT
    assert not missing, f"Add these tasks to tests/tenancy/test_alerts_tasks.py: {missing}"


def _b_is_offline_and_speeding(b: Tenant) -> None:
    """B has a rule, a vehicle long offline and positions worth an alert."""
    with scopes_disabled():
        AlertRule.objects.filter(organization=b.organization).update(
            params={"min_seconds": 0}, enabled=True
        )
        AlertRule.objects.create(
            organization=b.organization, name="B offline", kind="vehicle_offline"
        )
        old = timezone.now() - dt.timedelta(hours=2)
        VehicleState.objects.create(
            organization=b.organization, vehicle=b.vehicle, fix_time=old, server_time=old,
            latitude=52.37, longitude=4.89,
        )  # fmt: skip
    positions_insert(b, drive(start_t=0, seconds=60, kmh=150))


@pytest.mark.parametrize("name", sorted(FOREIGN_TASK_KWARGS))
def test_alerts_tasks_with_foreign_ids_touch_nothing_of_the_other_tenant(
    name: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from config.celery import app

    app.loader.import_default_modules()
    _b_is_offline_and_speeding(tenant_b)
    app.tasks[name].apply(kwargs=FOREIGN_TASK_KWARGS[name](tenant_a, tenant_b)).get()
    with scopes_disabled():
        assert not Alert.objects.exists()
        assert not EvaluationState.objects.filter(organization=tenant_b.organization).exists()
        assert not EvaluationState.objects.filter(
            subject_id=tenant_b.vehicle.pk, cursor_fix_time__isnull=False
        ).exists()
