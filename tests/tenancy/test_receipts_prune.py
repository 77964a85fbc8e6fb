"""Idempotency receipts are pruned past their retention (tenancy/api/idempotency.py): the API's
after 24 hours, the driver app's after 7 days; a run for one organization deletes nothing of
another's; the beat task fans out one tenant task per organization."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from deliveries.models import ActionReceipt
from tenancy.api.idempotency import receipts_prune
from tenancy.api.receipts import RECEIPT_TTL
from tenancy.context import tenant_context
from tenancy.models import IdempotencyReceipt
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def receipts_build(tenant: Tenant, age: dt.timedelta, label: str) -> None:
    at = timezone.now() - age
    with tenant_context(tenant.organization):
        api = IdempotencyReceipt.objects.create(
            organization=tenant.organization, key=f"api-{label}", credential="token:1",
            fingerprint="f", status=201, body={},
        )  # fmt: skip
        IdempotencyReceipt.objects.filter(pk=api.pk).update(created_at=at)
        ActionReceipt.objects.create(
            organization=tenant.organization, key=f"act-{label}", kind="arrive",
            response_status=200, created_at=at,
        )  # fmt: skip


def keys(tenant: Tenant) -> set[str]:
    with scopes_disabled():
        api = IdempotencyReceipt.objects.filter(organization=tenant.organization)
        actions = ActionReceipt.objects.filter(organization=tenant.organization)
        return set(api.values_list("key", flat=True)) | set(actions.values_list("key", flat=True))


def test_receipts_past_their_retention_go_and_only_the_organizations_own(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    for tenant in (tenant_a, tenant_b):
        receipts_build(tenant, dt.timedelta(hours=1), "fresh")
        receipts_build(tenant, RECEIPT_TTL + dt.timedelta(minutes=5), "day")
        receipts_build(tenant, dt.timedelta(days=8), "week")
    with tenant_context(tenant_a.organization):
        deleted = receipts_prune(organization_id=tenant_a.organization.pk)
    assert deleted == {"api": 2, "driver-actions": 1}
    # The API's receipts keep a day; the driver app's a week (a phone's offline queue).
    assert keys(tenant_a) == {"api-fresh", "act-fresh", "act-day"}
    assert len(keys(tenant_b)) == 6


def test_the_beat_task_prunes_every_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from config.celery import app
    from tenancy.tasks import receipts_prune_organization

    app.loader.import_default_modules()
    assert app.conf.beat_schedule["receipts-prune"]["task"] == "tenancy.receipts_prune"
    for tenant in (tenant_a, tenant_b):
        receipts_build(tenant, dt.timedelta(days=8), "week")
    receipts_prune_organization.apply(kwargs={"organization_id": tenant_b.organization.pk}).get()
    assert keys(tenant_b) == set() and len(keys(tenant_a)) == 2
