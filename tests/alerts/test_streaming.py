"""The streaming runner against the real database: fixes read after the cursor, alerts and
their timelines and outbox events written with the cursor, nothing doubled on a re-run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django_scopes import scopes_disabled

from alerts.evaluation.streaming import positions_evaluate
from alerts.models import Alert, EvaluationState
from fleet.models import Zone
from tenancy.context import tenant_context
from tests.alerts.support import (
    alerts_of,
    at,
    outbox_kinds,
    positions_insert,
    rule_create,
    timeline,
)
from tests.alerts.tracks import drive, square
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def evaluate(tenant: Tenant, since_s: float = 0) -> dict[str, int]:
    with tenant_context(tenant.organization.pk):
        result = positions_evaluate(
            organization_id=tenant.organization.pk, vehicle_ids=[tenant.vehicle.pk], since=at(since_s),
            now=at(3600),
        )  # fmt: skip
    return result.__dict__


def speeding_episode(start: float) -> list:  # type: ignore[type-arg]
    return [
        *drive(start_t=start, seconds=60, kmh=50),
        *drive(start_t=start + 65, seconds=60, kmh=110),
        *drive(start_t=start + 130, seconds=60, kmh=50),
    ]


def test_speeding_episode_opens_updates_and_resolves_once(tenant_a: Tenant) -> None:
    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 20})
    positions_insert(tenant_a, speeding_episode(0))
    result = evaluate(tenant_a)
    assert result["opened"] == 1 and result["resolved"] == 1
    (alert,) = alerts_of(tenant_a)
    assert alert.status == Alert.Status.RESOLVED and alert.vehicle_id == tenant_a.vehicle.pk
    assert alert.details["peak_kmh"] == 110 and alert.details["duration_s"] == 65
    assert alert.condition_started_at == at(65) and alert.opened_at == at(85)
    assert alert.resolved_at == at(130)
    assert timeline(alert)[0] == "opened" and timeline(alert)[-1] == "resolved"
    assert outbox_kinds(tenant_a)[0] == "alert.opened"
    assert outbox_kinds(tenant_a)[-1] == "alert.resolved"
    # Re-run: the cursor has moved past every fix; nothing more happens.
    assert evaluate(tenant_a)["fixes"] == 0
    assert len(alerts_of(tenant_a)) == 1


def test_fixes_arriving_late_are_never_evaluated(tenant_a: Tenant) -> None:
    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 20})
    positions_insert(tenant_a, drive(start_t=1000, seconds=60, kmh=50))
    evaluate(tenant_a)
    # An old burst of speeding arrives after the newer fixes were evaluated.
    positions_insert(tenant_a, drive(start_t=100, seconds=120, kmh=130))
    assert evaluate(tenant_a)["fixes"] == 0
    assert alerts_of(tenant_a) == []
    with scopes_disabled():
        state = EvaluationState.objects.get(organization=tenant_a.organization)
    assert state.cursor_fix_time == at(1060)


def test_an_open_episode_is_not_closed_by_a_late_fix(tenant_a: Tenant) -> None:
    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 20})
    positions_insert(tenant_a, drive(start_t=0, seconds=60, kmh=120))
    evaluate(tenant_a)
    positions_insert(tenant_a, drive(start_t=10, seconds=1, kmh=20, start_east_m=5))  # late, slow
    evaluate(tenant_a)
    (alert,) = alerts_of(tenant_a)
    assert alert.status == Alert.Status.OPEN


def test_cooldown_keeps_a_second_episode_quiet(tenant_a: Tenant) -> None:
    rule_create(
        tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 20}, cooldown_seconds=600
    )
    positions_insert(
        tenant_a, [*speeding_episode(0), *speeding_episode(300), *speeding_episode(1200)]
    )
    evaluate(tenant_a)
    alerts = alerts_of(tenant_a)
    # The episode at 300 s falls within 600 s of the first one's end (130 s); the one at 1200 s not.
    assert [a.condition_started_at for a in alerts] == [at(65), at(1265)]


def test_active_hours_in_the_organizations_zone(tenant_a: Tenant) -> None:
    tenant_a.organization.timezone = "Europe/Amsterdam"
    tenant_a.organization.save()
    # T0 is 10:00 UTC = 11:00 in Amsterdam: a rule active 12:00-18:00 stays quiet at 11:00.
    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 20},
                active_hours=[{"start": "12:00", "end": "18:00"}])  # fmt: skip
    positions_insert(tenant_a, speeding_episode(0))
    evaluate(tenant_a)
    assert alerts_of(tenant_a) == []
    positions_insert(tenant_a, speeding_episode(3600))  # 12:00 local
    evaluate(tenant_a)
    assert len(alerts_of(tenant_a)) == 1


def test_geofence_exit_from_the_hubs_service_area(tenant_a: Tenant) -> None:
    with scopes_disabled():
        Zone.objects.create(organization=tenant_a.organization, name="Service", hub=tenant_a.hub,
                            kind=Zone.Kind.SERVICE_AREA, geometry=square(1000))  # fmt: skip
    rule_create(tenant_a, "geofence_exit", params={"min_seconds": 20})
    positions_insert(
        tenant_a,
        [
            *drive(start_t=0, seconds=200, kmh=36),
            *drive(start_t=205, seconds=30, kmh=0, start_east_m=500),
        ],
    )
    evaluate(tenant_a)
    (alert,) = alerts_of(tenant_a)
    assert alert.kind == "geofence_exit" and alert.status == Alert.Status.RESOLVED


def test_rules_of_another_scope_do_not_apply(tenant_a: Tenant, tenant_b: Tenant) -> None:
    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 0},
                scope_kind="hubs", scope_hub_ids=[tenant_b.hub.pk])  # fmt: skip
    positions_insert(tenant_a, speeding_episode(0))
    evaluate(tenant_a)
    assert alerts_of(tenant_a) == []


def test_a_run_asked_for_before_the_vehicles_last_run_began_only_looks(tenant_a: Tenant) -> None:
    """The relay asks for a run after the fixes committed; a run of the vehicle that began
    later has read them, so the queued one skips the vehicle (the queue drains at once when
    the worker fell behind). Asked for after that run began, it evaluates."""
    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 0})
    positions_insert(tenant_a, drive(start_t=0, seconds=30, kmh=50))
    assert evaluate(tenant_a)["fixes"] > 0
    with scopes_disabled():
        began = EvaluationState.objects.get(organization=tenant_a.organization).updated_at
    positions_insert(tenant_a, drive(start_t=35, seconds=30, kmh=120))

    def run(requested_at: dt.datetime) -> dict[str, int]:
        with tenant_context(tenant_a.organization.pk):
            return positions_evaluate(
                organization_id=tenant_a.organization.pk, vehicle_ids=[tenant_a.vehicle.pk],
                since=at(0), now=at(3600), requested_at=requested_at,
            ).__dict__  # fmt: skip

    stale = run(began - dt.timedelta(seconds=5))
    assert (stale["skipped"], stale["fixes"], stale["opened"]) == (1, 0, 0)
    # Within the allowed clock skew of the run's start: evaluated, not skipped.
    fresh = run(began - dt.timedelta(milliseconds=500))
    assert (fresh["skipped"], fresh["opened"]) == (0, 1)
    assert fresh["fixes"] > 0


def test_vehicles_with_the_same_rules_share_their_groups_and_keep_their_own_episodes(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleet.models import Vehicle

    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 0})
    rule_create(tenant_a, "battery_low", params={})
    with scopes_disabled():
        calm = Vehicle.objects.create(
            organization=tenant_a.organization, hub=tenant_a.hub, plate="CALM-1"
        )
    positions_insert(tenant_a, speeding_episode(0))
    positions_insert(tenant_a, drive(start_t=0.5, seconds=190, kmh=50), vehicle_id=calm.pk)

    def both() -> Any:
        with tenant_context(tenant_a.organization.pk):
            return positions_evaluate(
                organization_id=tenant_a.organization.pk,
                vehicle_ids=[tenant_a.vehicle.pk, calm.pk], since=at(0), now=at(3600),
            )  # fmt: skip

    result = both()
    assert (result.vehicles, result.opened, result.resolved) == (2, 1, 1)
    assert [a.vehicle_id for a in alerts_of(tenant_a)] == [tenant_a.vehicle.pk]
    # The same rules, no geofence or corridor among them: one set of groups for both.
    from alerts.evaluation import stream

    built: list[int] = []
    original = stream._groups_build

    def counting(*args: object, **kwargs: object) -> object:
        built.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stream, "_groups_build", counting)
    positions_insert(tenant_a, drive(start_t=400, seconds=30, kmh=120))
    positions_insert(tenant_a, drive(start_t=400.5, seconds=30, kmh=50), vehicle_id=calm.pk)
    again = both()
    assert again.vehicles == 2 and again.opened == 1
    assert len(built) == 1
