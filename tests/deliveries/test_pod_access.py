"""Proof-of-delivery files: only the organization's users and the order's own tracking link."""

from __future__ import annotations

import io
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import resolve
from django.urls.exceptions import Resolver404
from django_scopes import scope
from PIL import Image

from deliveries.models import ProofOfDelivery, Route, Stop
from fleet.models import Driver, Hub
from tenancy.models import Membership, Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_build

pytestmark = pytest.mark.django_db


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), (10, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def proof_with_files(tenant: Tenant) -> ProofOfDelivery:
    with scope(organization=tenant.organization.pk):
        proof = ProofOfDelivery(
            organization=tenant.organization, order=tenant.order, recipient_name="R"
        )
        proof.photo.save("photo.png", ContentFile(png()), save=False)
        proof.signature.save("signature.png", ContentFile(png()), save=False)
        proof.save()
    return proof


def url(proof: ProofOfDelivery, kind: str = "photo") -> str:
    return f"/pod/{proof.pk}/{kind}/"


def tracking_url(code: str, proof: ProofOfDelivery, kind: str = "photo") -> str:
    return f"/track/{code}/pod/{proof.pk}/{kind}/"


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def visitor() -> Client:
    """An anonymous client with an address of its own: the tracking rate limiter counts per
    address in Redis for a minute, across tests and runs."""
    return Client(REMOTE_ADDR="10." + ".".join(str(secrets.randbelow(250) + 1) for _ in range(3)))


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.SUPPORT])
def test_the_organizations_users_get_the_file(role: str, tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    response = login(tenant_a.users[role]).get(url(proof))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert body(response) == (media / str(proof.photo.name)).read_bytes()
    signature = login(tenant_a.users[role]).get(url(proof, "signature"))
    assert signature.status_code == 200 and body(signature).startswith(b"\x89PNG")


@pytest.mark.parametrize("role", Role.values)
def test_another_organizations_users_get_404(
    role: str, tenant_a: Tenant, tenant_b: Tenant, media: Path
) -> None:
    proof = proof_with_files(tenant_b)
    client = login(tenant_a.users[role])
    assert client.get(url(proof)).status_code == 404
    assert client.get(url(proof, "signature")).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    response = Client().get(url(proof))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_hub_scope_and_driver_routes_are_respected(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    with scope(organization=tenant_a.organization.pk):
        other_hub = Hub.objects.create(
            organization=tenant_a.organization, name="Other", code="other", latitude=1, longitude=1
        )
        membership = Membership.objects.get(user=tenant_a.users[Role.DISPATCHER])
        membership.hubs.set([other_hub])
    assert login(tenant_a.users[Role.DISPATCHER]).get(url(proof)).status_code == 404
    with scope(organization=tenant_a.organization.pk):
        membership.hubs.set([tenant_a.hub])
    assert login(tenant_a.users[Role.DISPATCHER]).get(url(proof)).status_code == 200
    # A driver sees proofs of orders on their own routes only.
    driver_client = login(tenant_a.users[Role.DRIVER])
    assert driver_client.get(url(proof)).status_code == 404
    with scope(organization=tenant_a.organization.pk):
        Driver.objects.filter(pk=tenant_a.driver.pk).update(user=tenant_a.users[Role.DRIVER])
    assert driver_client.get(url(proof)).status_code == 200


def test_the_orders_tracking_link_gets_the_file(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    assert tenant_a.order is not None
    client = visitor()
    response = client.get(tracking_url(tenant_a.order.tracking_code, proof))
    assert response.status_code == 200
    assert body(response) == (media / str(proof.photo.name)).read_bytes()
    assert (
        client.get(tracking_url(tenant_a.order.tracking_code, proof, "signature")).status_code
        == 200
    )


def test_another_orders_tracking_link_gets_404(
    tenant_a: Tenant, tenant_b: Tenant, media: Path
) -> None:
    proof = proof_with_files(tenant_a)
    other = order_build(tenant_a.organization, tenant_a.hub, reference="OTHER-2")
    assert tenant_b.order is not None
    client = visitor()
    for code in (other.tracking_code, tenant_b.order.tracking_code, "no-such-code"):
        assert client.get(tracking_url(code, proof)).status_code == 404


def test_the_tracking_link_files_share_the_tracking_pages_rate_limit(
    tenant_a: Tenant, media: Path, settings: Any
) -> None:
    settings.TRACKING_RATE_LIMIT_PER_MINUTE = 3
    if time.time() % 60 > 55:  # the limiter counts per wall-clock minute
        time.sleep(6)
    proof = proof_with_files(tenant_a)
    assert tenant_a.order is not None
    code = tenant_a.order.tracking_code
    client = visitor()
    assert client.get(tracking_url(code, proof)).status_code == 200
    assert client.get(f"/track/{code}/").status_code == 200  # the page itself: one budget
    assert client.get(tracking_url("guess000000000000000", proof)).status_code == 404
    refused = client.get(tracking_url(code, proof, "signature"))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Cache-Control"] == "private, no-store"
    assert not refused.streaming and b"PNG" not in refused.content
    # Another address has its own budget.
    assert visitor().get(tracking_url(code, proof)).status_code == 200


def test_missing_files_and_unknown_kinds_are_404(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    client = login(tenant_a.users[Role.SUPPORT])
    assert client.get(url(proof, "notes")).status_code == 404
    (media / str(proof.photo.name)).unlink()
    assert client.get(url(proof)).status_code == 404
    with scope(organization=tenant_a.organization.pk):
        empty = ProofOfDelivery.objects.create(
            organization=tenant_a.organization, order=tenant_a.order
        )
    assert client.get(url(empty, "signature")).status_code == 404


def test_files_are_never_served_from_media_url(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    with pytest.raises(Resolver404):
        resolve(f"{settings.MEDIA_URL}{proof.photo.name}")
    assert Client().get(f"{settings.MEDIA_URL}{proof.photo.name}").status_code == 404


def test_the_support_lookup_shows_the_proof(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    assert tenant_a.order is not None
    with scope(organization=tenant_a.organization.pk):
        assert Stop.objects.filter(order=tenant_a.order).exists()
        assert Route.objects.exists()
    response = login(tenant_a.users[Role.SUPPORT]).get(
        f"/orders/{tenant_a.order.pk}/", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{url(proof)}"' in html and f'src="{url(proof, "signature")}"' in html


def test_the_admin_links_the_files_through_the_checked_urls(tenant_a: Tenant, media: Path) -> None:
    proof = proof_with_files(tenant_a)
    response = login(tenant_a.users[Role.ADMIN]).get(
        f"/admin/deliveries/proofofdelivery/{proof.pk}/change/"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="{url(proof)}"' in html and f'href="{url(proof, "signature")}"' in html
    assert settings.MEDIA_URL not in html
