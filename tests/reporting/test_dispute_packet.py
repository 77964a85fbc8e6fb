"""The dispute packet: the PDF parses and states the facts in the organization's time zone;
the SHA-256 printed on it is the one stored and the hash of its facts; the verify page knows a
genuine copy, an altered one and a stranger; roles, hub scope and tenants are respected."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from deliveries.models import DeliveryEvent, Order
from fleet.geo import haversine_m
from reporting.dispute.facts import canonical_bytes, content_sha256, packet_facts_collect
from reporting.models import DisputePacket
from tenancy.context import tenant_context
from tenancy.models import Membership, Role
from tests.conftest import Tenant, login
from tests.factories import HubFactory
from tests.reporting.packets import ADDRESS, DAY, STAMP, disputed_delivery, local

pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "dispute"
HASH = re.compile(r"Content SHA-256:?\s*([0-9a-f]{64})")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def packet_url(order: Order) -> str:
    return f"/history/orders/{order.pk}/dispute-packet.pdf"


def download(client: Client, order: Order) -> bytes:
    response = client.get(packet_url(order))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="dispute-packet-')
    data: bytes = response.content
    # For people to look at (artifacts/ is not committed).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"dispute_packet_{order.reference}.pdf").write_bytes(data)
    return data


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def verify(client: Client, data: bytes, name: str = "packet.pdf") -> Any:
    upload = SimpleUploadedFile(name, data, content_type="application/pdf")
    return client.post("/history/dispute-packets/verify/", {"file": upload})


def test_the_pdf_parses_and_states_the_facts(tenant_a: Tenant) -> None:
    dispute = disputed_delivery(tenant_a)
    data = download(login(tenant_a.users[Role.SUPPORT]), dispute.order)
    reader = PdfReader(io.BytesIO(data))
    text = pdf_text(data)
    flat = " ".join(text.split())
    order = dispute.order
    for fact in (
        f"Dispute packet — order {order.reference}",
        order.customer_name,
        order.address,
        "all times in Europe/Amsterdam",
        f"{ADDRESS[0]:.6f}, {ADDRESS[1]:.6f}",
        "Wed 10 Jun 2026, 10:00:00 CEST \u2013 12:00:00 CEST",  # the window
        "Wed 10 Jun 2026, 10:02:00 CEST",  # arrival
        "Wed 10 Jun 2026, 10:09:00 CEST",  # departure
        "7 min 00 s",  # dwell
        "Delivered",
        "Failed (alpha-org Not home)",  # the first attempt
        "09 Jun 2026 15:01:00 CEST",
        tenant_a.vehicle.plate,
        tenant_a.driver.name,
        "Alpharecipient Person",
        "Green door",
        "Left with the neighbour",
        "Wed 10 Jun 2026, 10:07:12 CEST by alpha-driver",
        f"{STAMP[0]:.6f}, {STAMP[1]:.6f} (±8 m)",
        "222 positions of ALPHAPLATE-01 from Wed 10 Jun 2026, 09:47:00 CEST to 10:24:00 CEST",  # 15 min around the visit
    ):
        assert fact in flat, fact
    distance = haversine_m(*ADDRESS, *STAMP)
    assert f"Distance from the address {distance:.0f} m" in flat
    assert round(distance) == 36
    # Every event of the timeline is listed.
    for status in ("Created", "Assigned", "Out for delivery", "Arrived", "Failed", "Delivered"):
        assert status in flat
    with scopes_disabled():
        assert DeliveryEvent.objects.filter(order=order).count() == 8
    assert flat.count("Driver app · alpha-driver") == 7
    # The photo and the signature are in it, and the map is drawn (vector paths, no tiles).
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 2
    assert (
        reader.metadata is not None and reader.metadata.title == f"Dispute packet {order.reference}"
    )


def test_the_printed_hash_is_the_stored_one_and_the_hash_of_the_content(tenant_a: Tenant) -> None:
    dispute = disputed_delivery(tenant_a)
    client = login(tenant_a.users[Role.SUPPORT])
    data = download(client, dispute.order)
    printed = set(HASH.findall(pdf_text(data)))
    with scopes_disabled():
        packet = DisputePacket.objects.get(order=dispute.order)
        stored_file = packet.file.read()
    assert printed == {packet.content_sha256}  # the header and every page's footer
    assert packet.content_sha256 == hashlib.sha256(canonical_bytes(packet.facts)).hexdigest()
    with tenant_context(tenant_a.organization.pk):
        facts, _ = packet_facts_collect(
            organization_id=tenant_a.organization.pk, order=dispute.order
        )
    assert content_sha256(facts.document()) == packet.content_sha256
    assert (
        packet.file_sha256
        == hashlib.sha256(data).hexdigest()
        == hashlib.sha256(stored_file).hexdigest()
    )
    assert packet.organization_id == tenant_a.organization.pk
    assert packet.generated_by == tenant_a.users[Role.SUPPORT]
    # The facts name the photo and the signature by their SHA-256.
    proof = packet.facts["proofs"][0]
    with scopes_disabled():
        dispute.proof.refresh_from_db()
        assert proof["photo_sha256"] == hashlib.sha256(dispute.proof.photo.read()).hexdigest()
    # The same facts: the same stored packet, byte for byte. New facts: a new packet.
    assert download(client, dispute.order) == data
    with scopes_disabled():
        assert DisputePacket.objects.filter(order=dispute.order).count() == 1
        DeliveryEvent.objects.create(
            organization=tenant_a.organization, order=dispute.order, to_status="delivered",
            at=local(DAY, 11), source=DeliveryEvent.Source.CONSOLE, note="Customer called",
        )  # fmt: skip
    again = download(client, dispute.order)
    assert again != data and "Customer called" in pdf_text(again)
    with scopes_disabled():
        assert DisputePacket.objects.filter(order=dispute.order).count() == 2


def test_verify_knows_a_genuine_copy_an_altered_one_and_a_stranger(tenant_a: Tenant) -> None:
    dispute = disputed_delivery(tenant_a)
    client = login(tenant_a.users[Role.SUPPORT])
    data = download(client, dispute.order)
    page = client.get("/history/dispute-packets/verify/")
    assert page.status_code == 200 and b"Upload a packet" in page.content

    genuine = verify(client, data)
    assert genuine.status_code == 200
    body = genuine.content.decode()
    assert 'data-verdict="match"' in body and dispute.order.reference in body
    assert hashlib.sha256(data).hexdigest() in body

    # Altered: the same packet rewritten with one fact changed (the hash text stays printed).
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_metadata({"/Title": "Dispute packet (edited)"})
    edited = io.BytesIO()
    writer.write(edited)
    altered = verify(client, edited.getvalue())
    body = altered.content.decode()
    assert 'data-verdict="altered"' in body and dispute.order.reference in body
    # A single flipped byte in the stream: not the issued file either.
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    assert 'data-verdict="match"' not in verify(client, bytes(flipped)).content.decode()

    stranger = io.BytesIO()
    sheet = canvas.Canvas(stranger)
    sheet.drawString(72, 720, "Content SHA-256: " + "ab" * 32)
    sheet.save()
    unknown = verify(client, stranger.getvalue()).content.decode()
    assert 'data-verdict="unknown"' in unknown and dispute.order.reference not in unknown


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (b"hello, not a pdf", "This file is not a PDF document."),
        (b"%PDF-1.4\n garbage", "This PDF could not be read."),
    ],
)
def test_verify_refuses_what_is_not_a_pdf_with_a_400(
    tenant_a: Tenant, upload: bytes, error: str
) -> None:
    response = verify(login(tenant_a.users[Role.SUPPORT]), upload)
    assert response.status_code == 400
    assert error in response.content.decode()


def test_verify_without_a_file_is_a_400(tenant_a: Tenant) -> None:
    response = login(tenant_a.users[Role.SUPPORT]).post("/history/dispute-packets/verify/", {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_drivers_and_strangers_get_no_packet(tenant_a: Tenant) -> None:
    dispute = disputed_delivery(tenant_a)
    data = download(login(tenant_a.users[Role.MANAGER]), dispute.order)
    with scopes_disabled():
        packet = DisputePacket.objects.get(order=dispute.order)
    urls = [packet_url(dispute.order), f"/history/dispute-packets/{packet.pk}.pdf",
            "/history/dispute-packets/verify/"]  # fmt: skip
    driver = login(tenant_a.users[Role.DRIVER])
    for url in urls:
        assert driver.get(url).status_code == 403
        assert Client().get(url).status_code == 302  # to the login page
    assert verify(driver, data).status_code == 403
    for role in (Role.ADMIN, Role.DISPATCHER, Role.SUPPORT):
        response = login(tenant_a.users[role]).get(f"/history/dispute-packets/{packet.pk}.pdf")
        assert response.status_code == 200
        assert response.content == data


def test_a_hub_scoped_member_gets_only_their_hubs_packets(tenant_a: Tenant) -> None:
    dispute = disputed_delivery(tenant_a)
    data = download(login(tenant_a.users[Role.SUPPORT]), dispute.order)
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Noord Depot")
    dispatcher = tenant_a.users[Role.DISPATCHER]
    with scopes_disabled():
        Membership.objects.get(user=dispatcher, organization=tenant_a.organization).hubs.set(
            [other_hub]
        )
        packet = DisputePacket.objects.get(order=dispute.order)
    client = login(dispatcher)
    assert client.get(packet_url(dispute.order)).status_code == 404
    assert client.get(f"/history/dispute-packets/{packet.pk}.pdf").status_code == 404
    body = verify(client, data).content.decode()
    assert 'data-verdict="unknown"' in body and dispute.order.reference not in body


def test_another_organizations_packet_is_unknown_to_us(tenant_a: Tenant, tenant_b: Tenant) -> None:
    disputed_delivery(tenant_b)
    assert tenant_b.order is not None
    data = download(login(tenant_b.users[Role.SUPPORT]), tenant_b.order)
    client = login(tenant_a.users[Role.SUPPORT])
    body = verify(client, data).content.decode()
    assert 'data-verdict="unknown"' in body
    for marker in [*tenant_b.markers, tenant_b.order.reference]:
        assert marker not in body
    with scopes_disabled():
        packet = DisputePacket.objects.get(order=tenant_b.order)
    assert client.get(f"/history/dispute-packets/{packet.pk}.pdf").status_code == 404
    assert client.get(packet_url(tenant_b.order)).status_code == 404
    with scopes_disabled():
        assert DisputePacket.objects.filter(organization=tenant_a.organization).count() == 0


def test_an_order_never_routed_still_gets_a_packet(tenant_a: Tenant) -> None:
    from tests.deliveries.builders import order_build

    order = order_build(tenant_a.organization, tenant_a.hub, reference="LONE-1",
                        customer_name="<b>Bold</b> & Co")  # fmt: skip
    text = " ".join(pdf_text(download(login(tenant_a.users[Role.SUPPORT]), order)).split())
    assert "<b>Bold</b> & Co" in text  # escaped, not markup
    assert "The order was never on a route." in text
    assert "No positions recorded around the stop." in text
    assert "No proof of delivery was captured." in text


def test_the_order_page_links_the_packet_and_the_orders_page_the_verify_page(
    tenant_a: Tenant,
) -> None:
    assert tenant_a.order is not None
    client = login(tenant_a.users[Role.SUPPORT])
    body = client.get(f"/orders/{tenant_a.order.pk}/").content.decode()
    assert f'href="{packet_url(tenant_a.order)}" download data-testid="dispute-packet-link"' in body
    assert 'href="/history/dispute-packets/verify/"' in client.get("/orders/").content.decode()
