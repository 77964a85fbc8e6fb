"""The dispute packet's edges: issue (and download) an order's packet, download an issued one,
and the verify page where support uploads a copy. Logic lives in services.py."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from deliveries.models import Order
from tenancy.permissions import CONSOLE_ROLES, role_required
from tenancy.selectors import membership_hub_ids

from ..models import DisputePacket
from .forms import PacketVerifyForm
from .services import NotAPdf, dispute_packet_issue, dispute_packet_verify, dispute_packets_of

# Support settles disputes; dispatchers, managers and admins may too. Drivers may not.
DISPUTE_ROLES = CONSOLE_ROLES


def _scope(request: HttpRequest) -> tuple[int, list[int] | None]:
    membership = request.membership  # type: ignore[attr-defined]
    return membership.organization_id, membership_hub_ids(membership=membership) or None


def _pdf_response(packet: DisputePacket) -> HttpResponse:
    # A packet is a few hundred KiB: read whole, so the response is a plain HttpResponse.
    try:
        with packet.file.open("rb") as handle:
            body = handle.read()
    except OSError as exc:
        raise Http404("The packet's file is missing from storage.") from exc
    filename = f"dispute-packet-{packet.order_id}-{packet.content_sha256[:12]}.pdf"
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Content-SHA256"] = packet.content_sha256
    return response


@require_GET
@role_required(*DISPUTE_ROLES)
def dispute_packet(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order's packet as its facts are now. A GET: issuing is idempotent by content, so a
    second click hands out the same stored file."""
    organization_id, hub_ids = _scope(request)
    try:
        packet = dispute_packet_issue(
            organization_id=organization_id,
            order_id=order_id,
            hub_ids=hub_ids,
            user_id=request.user.pk,
        )
    except Order.DoesNotExist:
        raise Http404("No such order.") from None
    return _pdf_response(packet)


@require_GET
@role_required(*DISPUTE_ROLES)
def dispute_packet_file(request: HttpRequest, packet_id: int) -> HttpResponse:
    organization_id, hub_ids = _scope(request)
    packet = dispute_packets_of(organization_id=organization_id, hub_ids=hub_ids)
    found = packet.filter(pk=packet_id).first()
    if found is None:
        raise Http404("No such packet.")
    return _pdf_response(found)


@require_http_methods(["GET", "POST"])
@role_required(*DISPUTE_ROLES)
def dispute_packet_verify_page(request: HttpRequest) -> HttpResponse:
    organization_id, hub_ids = _scope(request)
    form = (
        PacketVerifyForm(request.POST, request.FILES)
        if request.method == "POST"
        else PacketVerifyForm()
    )
    context: dict[str, object] = {"section": "orders", "form": form, "hub_scoped": bool(hub_ids)}
    if request.method == "POST":
        if form.is_valid():
            upload: UploadedFile = form.cleaned_data["file"]
            try:
                context["result"] = dispute_packet_verify(
                    organization_id=organization_id, data=upload.read(), hub_ids=hub_ids
                )
                context["filename"] = upload.name
            except NotAPdf as exc:
                form.add_error("file", str(exc))
        if not form.is_valid():
            return render(request, "reporting/dispute_verify.html", context, status=400)
    return render(request, "reporting/dispute_verify.html", context)
