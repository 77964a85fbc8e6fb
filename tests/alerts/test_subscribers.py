"""The positions subscriber: one relay transaction that hands over many `positions.flushed`
events enqueues one evaluation per chunk of their vehicles, not one per event (under ingest
load a relay batch holds tens of flushes of mostly the same vehicles)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from alerts import subscribers
from alerts.subscribers import EVALUATION_CHUNK_VEHICLES, POSITIONS_FLUSHED
from tenancy.context import tenant_context
from tenancy.outbox import outbox_emit
from tests.conftest import Tenant
from tests.support.outbox import outbox_relay_now

pytestmark = pytest.mark.django_db(transaction=True)


def flushed(tenant: Tenant, vehicle_ids: list[int], first: str) -> None:
    organization_id = tenant.organization.pk
    with tenant_context(organization_id), transaction.atomic():
        outbox_emit(
            organization_id=organization_id, kind=POSITIONS_FLUSHED, aggregate="organization",
            aggregate_id=organization_id,
            payload={"vehicle_ids": vehicle_ids, "fix_count": len(vehicle_ids),
                     "first_fix_at": first, "last_fix_at": first},
        )  # fmt: skip


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The evaluation tasks the relay's commit sends (the broker is not what is tested)."""
    from alerts.tasks import evaluate_positions

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(evaluate_positions, "delay", lambda **kwargs: sent.append(kwargs))
    monkeypatch.setattr("tenancy.outbox.services.outbox_relay_enqueue", lambda **_: True)
    return sent


def test_one_relay_of_many_flushes_enqueues_one_evaluation_of_their_vehicles(
    tenant_a: Tenant, enqueued: list[dict[str, Any]]
) -> None:
    flushed(tenant_a, [3, 1], "2026-12-02T10:00:05+00:00")
    flushed(tenant_a, [2, 3], "2026-12-02T10:00:01.500000+00:00")
    flushed(tenant_a, [4], "2026-12-02T11:00:02+01:00")

    before = timezone.now()
    outbox_relay_now(tenant_a.organization.pk)

    # Asked for after the relay committed: a run of a vehicle begun later may skip it.
    requested_at = dt.datetime.fromisoformat(enqueued[0].pop("requested_at"))
    assert before <= requested_at <= timezone.now()
    assert enqueued == [
        {"organization_id": tenant_a.organization.pk, "vehicle_ids": [1, 2, 3, 4],
         "since": "2026-12-02T10:00:01.500000+00:00"}
    ]  # fmt: skip


def test_a_large_relay_is_split_into_chunks_of_vehicles(
    tenant_a: Tenant, enqueued: list[dict[str, Any]]
) -> None:
    vehicles = list(range(1, EVALUATION_CHUNK_VEHICLES + 11))
    flushed(tenant_a, vehicles, "2026-12-02T10:00:00+00:00")

    outbox_relay_now(tenant_a.organization.pk)

    assert [call["vehicle_ids"] for call in enqueued] == [
        vehicles[:EVALUATION_CHUNK_VEHICLES], vehicles[EVALUATION_CHUNK_VEHICLES:]
    ]  # fmt: skip
    assert subscribers.EVALUATION_CHUNK_VEHICLES == 500
