"""Proofs of delivery and failure reasons over the API: metadata with links to the files, and
the files behind the same credentials and access check (hub scope), never a public URL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from deliveries.models import FailureReason, ProofOfDelivery
from tenancy.models import Membership, Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of
from tests.deliveries.test_pod_access import png, proof_with_files
from tests.factories import HubFactory
from tests.support.problems import problem_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def token_client(label: str = "Alpha") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}")


def test_an_orders_proofs_link_to_files_behind_the_api(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    client = token_client()
    listing = client.get(f"/api/v1/orders/{tenant_a.order.pk}/proofs/")  # type: ignore[union-attr]
    assert listing.status_code == 200, listing.content
    ids = [p["id"] for p in listing.json()["results"]]
    assert ids[0] == proof.pk  # newest first; the builder's proof (no files) after it
    detail = client.get(f"/api/v1/proofs/{proof.pk}/").json()
    assert detail["order"] == tenant_a.order.pk and detail["recipient_name"] == "R"  # type: ignore[union-attr]
    assert detail["photo"] == f"/api/v1/proofs/{proof.pk}/photo/"
    assert detail["signature"] == f"/api/v1/proofs/{proof.pk}/signature/"
    assert "/media/" not in listing.content.decode()
    photo = client.get(detail["photo"], HTTP_ACCEPT="image/*")
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/png"
    assert photo["Cache-Control"].startswith("private")
    assert b"".join(photo.streaming_content) == png()  # type: ignore[attr-defined]
    # Unchanged since: 304 without the file.
    again = client.get(detail["photo"], HTTP_IF_NONE_MATCH=photo["ETag"])
    assert again.status_code == 304
    # Without credentials, nothing; an unknown kind is 404.
    problem_of(Client().get(detail["photo"]), 401)
    problem_of(client.get(f"/api/v1/proofs/{proof.pk}/selfie/"), 404)


def test_a_proof_without_a_file_links_nothing(tenant_a: Tenant) -> None:
    bare = tenant_a.delivery_objects[ProofOfDelivery]
    client = token_client()
    detail = client.get(f"/api/v1/proofs/{bare.pk}/").json()
    assert detail["photo"] is None and detail["signature"] is None
    problem_of(client.get(f"/api/v1/proofs/{bare.pk}/photo/"), 404)


def test_foreign_proofs_and_their_files_are_404(
    tenant_a: Tenant, tenant_b: Tenant, media: Path
) -> None:
    proof = proof_with_files(tenant_b)
    for client in (token_client(), login(tenant_a.users[Role.ADMIN])):
        for url in (
            f"/api/v1/proofs/{proof.pk}/",
            f"/api/v1/proofs/{proof.pk}/photo/",
            f"/api/v1/orders/{tenant_b.order.pk}/proofs/",  # type: ignore[union-attr]
        ):
            response = client.get(url)
            problem_of(response, 404)
            assert b"PNG" not in response.content
    # B's own token opens it.
    assert token_client("Bravo").get(f"/api/v1/proofs/{proof.pk}/photo/").status_code == 200


def test_a_hub_scoped_member_sees_only_their_hubs_proofs(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    user = tenant_a.users[Role.SUPPORT]
    other = HubFactory.create(organization=tenant_a.organization, code=f"h-{uuid.uuid4().hex[:6]}")
    client = login(user)
    assert client.get(f"/api/v1/proofs/{proof.pk}/photo/").status_code == 200
    with scopes_disabled():
        Membership.objects.get(user=user, organization=tenant_a.organization).hubs.set([other])
    problem_of(client.get(f"/api/v1/proofs/{proof.pk}/photo/"), 404)
    problem_of(client.get(f"/api/v1/proofs/{proof.pk}/"), 404)


def test_failure_reasons_are_the_organizations_active_ones(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with scopes_disabled():
        FailureReason.objects.create(
            organization=tenant_a.organization, code="retired", label="Retired", active=False
        )
        own = set(
            FailureReason.objects.filter(
                organization=tenant_a.organization, active=True
            ).values_list("code", flat=True)
        )
        foreign = FailureReason.objects.filter(organization=tenant_b.organization).first()
    response = token_client().get("/api/v1/failure-reasons/")
    assert response.status_code == 200
    codes = {r["code"] for r in response.json()["results"]}
    assert codes == own and "retired" not in codes
    assert foreign is not None and foreign.label not in response.content.decode()
    assert token_client().get("/api/v1/failure-reasons/", {"limit": "0"}).status_code == 400
