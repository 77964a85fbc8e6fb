"""The KPI API over HTTP: the dashboard's figures for BI tools, with the same filters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from reporting.models import DailyVehicleRollup
from tests.conftest import Tenant
from tests.deliveries.builders import api_token_of

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 6, 10)
SLICE = "start=2026-06-10&end=2026-06-11"


def token_client(label: str = "Alpha") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}")


def _rollups(tenant: Tenant) -> None:
    with scopes_disabled():
        for offset, distance in ((0, 12_000.0), (1, 8_000.0)):
            DailyVehicleRollup.objects.create(
                organization=tenant.organization,
                vehicle=tenant.vehicle,
                day=DAY + dt.timedelta(days=offset),
                hub_id=tenant.hub.pk,
                distance_m=distance,
                shift_seconds=3600,
                computed_at=timezone.now(),
            )


def test_summary_daily_and_breakdown(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _rollups(tenant_a)
    _rollups(tenant_b)
    client = token_client()
    summary = client.get(f"/api/v1/kpis/summary/?{SLICE}")
    assert summary.status_code == 200, summary.content
    body = summary.json()
    assert body["figures"]["distance_km"]["value"] == pytest.approx(20)  # A's only
    assert body["figures"]["distance_km"]["unit"] == "km"
    assert body["previous"]["distance_km"]["value"] is None
    assert body["period"]["start"] == "2026-06-10" and body["timezone"]
    daily = client.get(f"/api/v1/kpis/daily/?{SLICE}").json()
    assert [d["figures"]["distance_km"]["value"] for d in daily["days"]] == [
        pytest.approx(12),
        pytest.approx(8),
    ]
    rows = client.get(f"/api/v1/kpis/breakdown/vehicle/?{SLICE}").json()["rows"]
    assert [(r["key"], r["label"]) for r in rows] == [
        (str(tenant_a.vehicle.pk), tenant_a.vehicle.plate)
    ]
    hub = client.get(f"/api/v1/kpis/summary/?{SLICE}&hub={tenant_a.hub.pk}").json()
    assert hub["figures"]["distance_km"]["value"] == pytest.approx(20)


def test_bad_slices_are_problems_and_foreign_ids_are_refused(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = token_client()
    for query in ("start=2026-06-12&end=2026-06-10", "start=yesterday", f"hub={tenant_b.hub.pk}"):
        response = client.get(f"/api/v1/kpis/summary/?{query}")
        assert response.status_code == 400, (query, response.status_code)
        assert response["Content-Type"].startswith("application/problem+json")
        assert tenant_b.hub.name not in response.content.decode()
    assert client.get("/api/v1/kpis/breakdown/planet/").status_code == 404
    assert Client().get("/api/v1/kpis/summary/").status_code in (401, 403)
