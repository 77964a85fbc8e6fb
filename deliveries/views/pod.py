"""Proof-of-delivery files, streamed from storage after an access check, never from MEDIA_URL.

Two doors: the organization's signed-in users (hub scope respected; a driver only for orders
of their own routes), and the public tracking link, whose code is the secret that opens the
proofs of that one order.
"""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from tenancy.api.ratelimit import rate_limited
from tenancy.context import tenant_context
from tenancy.models import Role
from tenancy.selectors import membership_hub_ids

from ..models import ProofOfDelivery
from ..resolvers import order_locate_by_tracking_code
from ..selectors.proofs import proof_list

POD_FILE_KINDS = ("photo", "signature")


def pod_file_response(proof: ProofOfDelivery, kind: str) -> FileResponse:
    """The proof's photo or signature, streamed privately (the caller checked access)."""
    if kind not in POD_FILE_KINDS:
        raise Http404("No such file.")
    file: FieldFile = getattr(proof, kind)
    if not file or not file.name:
        raise Http404("No such file.")
    try:
        handle = file.storage.open(file.name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The file is missing from storage.") from exc
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    # Private to the person who asked: no shared cache may keep a customer's doorstep photo.
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="{kind}-{proof.pk}{_suffix(file)}"'
    return response


def _suffix(file: FieldFile) -> str:
    name = file.name or ""
    return name[name.rfind(".") :] if "." in name else ""


@require_GET
@login_required
def pod_file(request: HttpRequest, proof_id: int, kind: str) -> FileResponse:
    membership = getattr(request, "membership", None)
    if membership is None:
        raise Http404("No such file.")
    # The middleware entered the member's organization; the query names it as well.
    driver = membership.role == Role.DRIVER
    proofs = proof_list(
        organization_id=membership.organization_id,
        hub_ids=None if driver else membership_hub_ids(membership=membership),
        driver_user=request.user if driver else None,
    )
    proof = proofs.filter(pk=proof_id).first()
    if proof is None:
        raise Http404("No such file.")
    return pod_file_response(proof, kind)


def _tracking_refused(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = HttpResponse("Too many requests; try again shortly.", content_type="text/plain")
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
# The tracking page's own budget: a code guessed here counts like one guessed on the page.
@rate_limited(
    bucket="tracking",
    limit=lambda: int(settings.TRACKING_RATE_LIMIT_PER_MINUTE),
    refused=_tracking_refused,
)
def tracking_pod_file(
    request: HttpRequest, tracking_code: str, proof_id: int, kind: str
) -> FileResponse:
    # The tracking code names the organization: its resolver answers before any scope exists.
    located = order_locate_by_tracking_code(code=tracking_code)
    if located is None:
        raise Http404("No such file.")
    organization_id, order_id = located
    with tenant_context(organization_id):
        proof = ProofOfDelivery.objects.filter(
            organization_id=organization_id, pk=proof_id, order_id=order_id
        ).first()
        if proof is None:
            raise Http404("No such file.")
        return pod_file_response(proof, kind)
