"""Issue a dispute packet for an order, and check a copy brought back.

Issuing is idempotent by content: the same facts give the same content hash, and the stored
packet is handed out again (so a download link can be a plain GET). A verdict on an uploaded
copy is one of: it is byte for byte a packet this organization issued; it carries the content
hash of an issued packet but its bytes differ (altered); it is no packet of ours."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from io import BytesIO

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from deliveries.models import Order
from deliveries.selectors.orders import order_get
from tenancy.context import require_organization

from ..models import DisputePacket
from .facts import content_sha256, packet_facts_collect
from .pdf import HASH_LABEL, packet_pdf_render

PRINTED_HASH = re.compile(rf"{HASH_LABEL}:?\s*([0-9a-f]{{64}})")


def dispute_packets_of(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> QuerySet[DisputePacket]:
    """The packets a member may see: the organization's, of orders in `hub_ids` when given."""
    require_organization(organization_id)
    packets = DisputePacket.objects.filter(organization_id=organization_id).select_related("order")
    if hub_ids:
        packets = packets.filter(order__hub_id__in=hub_ids)
    return packets


def dispute_packet_issue(
    *, organization_id: int, order_id: int, hub_ids: list[int] | None = None, user_id: int | None
) -> DisputePacket:
    """The packet of the order's facts as they are now; raises Order.DoesNotExist for a
    foreign or out-of-scope order."""
    require_organization(organization_id)
    order: Order = order_get(organization_id=organization_id, order_id=order_id, hub_ids=hub_ids)
    facts, images = packet_facts_collect(organization_id=organization_id, order=order)
    document = facts.document()
    digest = content_sha256(document)
    issued = DisputePacket.objects.filter(
        organization_id=organization_id, order_id=order.pk, content_sha256=digest
    ).first()
    if issued is not None:
        return issued
    generated_at = timezone.now().replace(microsecond=0)
    pdf = packet_pdf_render(facts, images, content_sha256=digest, generated_at=generated_at)
    packet = DisputePacket(
        organization_id=organization_id,
        order=order,
        content_sha256=digest,
        file_sha256=hashlib.sha256(pdf).hexdigest(),
        size_bytes=len(pdf),
        facts=document,
        generated_at=generated_at,
        generated_by_id=user_id,
    )
    try:
        with transaction.atomic():
            packet.file.save(f"{digest}.pdf", ContentFile(pdf), save=False)
            packet.save()
    except IntegrityError:
        # Two clicks at once: the other request stored the same content first.
        packet.file.delete(save=False)
        return DisputePacket.objects.get(
            organization_id=organization_id, order_id=order.pk, content_sha256=digest
        )
    return packet


class Verdict(enum.StrEnum):
    MATCH = "match"
    ALTERED = "altered"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PacketVerification:
    verdict: Verdict
    file_sha256: str
    printed_sha256: str | None
    packet: DisputePacket | None


class NotAPdf(ValueError):
    """The upload is not a PDF document."""


def printed_content_hash(data: bytes) -> str | None:
    """The content hash a PDF states on its pages (its text), if any; raises NotAPdf."""
    if not data.startswith(b"%PDF-"):
        raise NotAPdf("This file is not a PDF document.")
    try:
        reader = PdfReader(BytesIO(data))
        text = " ".join(page.extract_text() or "" for page in reader.pages[:3])
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise NotAPdf("This PDF could not be read.") from exc
    found = PRINTED_HASH.search(text)
    return found.group(1) if found else None


def dispute_packet_verify(
    *, organization_id: int, data: bytes, hub_ids: list[int] | None = None
) -> PacketVerification:
    """Check an uploaded copy against the packets this organization issued (raises NotAPdf)."""
    packets = dispute_packets_of(organization_id=organization_id, hub_ids=hub_ids)
    file_digest = hashlib.sha256(data).hexdigest()
    exact = packets.filter(file_sha256=file_digest).first()
    if exact is not None:
        return PacketVerification(Verdict.MATCH, file_digest, exact.content_sha256, exact)
    printed = printed_content_hash(data)
    claimed = packets.filter(content_sha256=printed).first() if printed else None
    if claimed is not None:
        return PacketVerification(Verdict.ALTERED, file_digest, printed, claimed)
    return PacketVerification(Verdict.UNKNOWN, file_digest, printed, None)
