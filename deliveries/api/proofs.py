"""Proofs of delivery (what the driver captured at the door) and the organization's failure
reasons, over the API. A proof's photo and signature are links back into the API, opened with
the same credentials and the same access check as its metadata (hub scope included); a file is
never at a public URL."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.http import Http404
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.cache import get_conditional_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.pagination import KeysetPagination, NewestFirstPagination
from tenancy.api.views import OrganizationApiView

from ..models import FailureReason, Order, ProofOfDelivery
from ..selectors.orders import failure_reason_list, order_get
from ..selectors.proofs import proof_list
from ..views.pod import POD_FILE_KINDS, pod_file_response


def proof_file_url(proof: ProofOfDelivery, kind: str) -> str | None:
    if not getattr(proof, kind):
        return None
    return reverse("deliveries-api:proof_file", kwargs={"proof_id": proof.pk, "kind": kind})


class ProofSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    order = serializers.IntegerField(source="order_id")
    photo = serializers.SerializerMethodField(
        help_text="The photo's download link (send your credentials), or null."
    )
    signature = serializers.SerializerMethodField(
        help_text="The signature's download link (send your credentials), or null."
    )
    latitude = serializers.FloatField(allow_null=True, help_text="Where it was captured.")
    longitude = serializers.FloatField(allow_null=True)
    accuracy_m = serializers.FloatField(allow_null=True)
    captured_at = serializers.DateTimeField(allow_null=True, help_text="The phone's time.")
    captured_by = serializers.SerializerMethodField(help_text="The driver's login, or null.")

    class Meta:
        model = ProofOfDelivery
        fields = [
            "id", "order", "recipient_name", "notes", "latitude", "longitude", "accuracy_m",
            "captured_at", "received_at", "captured_by", "photo", "signature",
        ]  # fmt: skip
        read_only_fields = fields

    def get_photo(self, proof: ProofOfDelivery) -> str | None:
        return proof_file_url(proof, "photo")

    def get_signature(self, proof: ProofOfDelivery) -> str | None:
        return proof_file_url(proof, "signature")

    def get_captured_by(self, proof: ProofOfDelivery) -> str | None:
        user = proof.captured_by
        return user.get_username() if user is not None else None


class OrganizationFailureReasonSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = FailureReason
        fields = ["id", "code", "label"]
        read_only_fields = fields


class ProofApiView(OrganizationApiView):
    pagination_class: type[KeysetPagination] | None = NewestFirstPagination
    queryset = ProofOfDelivery.objects.none()

    def proofs(self) -> Any:
        return proof_list(organization_id=self.organization_id, hub_ids=self.hub_ids)

    def proof_or_404(self, proof_id: int) -> ProofOfDelivery:
        proof = self.proofs().filter(pk=proof_id).first()
        if proof is None:
            raise Http404("No such proof of delivery.")
        return proof


class OrderProofListApi(ProofApiView):
    serializer_class = ProofSerializer

    @extend_schema(
        operation_id="orders_proofs_list",
        summary="An order's proofs of delivery",
        description="What the driver captured at the door, newest first: recipient, notes, "
        "where and when, and links to the photo and signature.",
        responses=ProofSerializer(many=True),
    )
    def get(self, request: Request, order_id: int) -> Response:
        try:
            order_get(organization_id=self.organization_id, order_id=order_id, hub_ids=self.hub_ids)
        except Order.DoesNotExist as exc:  # foreign, or outside the hub scope
            raise Http404("No such order.") from exc
        page = self.paginate_queryset(self.proofs().filter(order_id=order_id))
        return self.get_paginated_response(ProofSerializer(page, many=True).data)


class ProofDetailApi(ProofApiView):
    serializer_class = ProofSerializer
    pagination_class = None

    @extend_schema(operation_id="proofs_retrieve", summary="Read a proof of delivery")
    def get(self, request: Request, proof_id: int) -> Response:
        return Response(ProofSerializer(self.proof_or_404(proof_id)).data)


class AnyFileRenderer(BaseRenderer):
    """A file answers in its own type, whatever the client accepts; an error answer (a
    problem) is still JSON."""

    media_type = "*/*"
    format = "file"
    charset = None

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return b"" if data is None else json.dumps(data).encode()


class ProofFileApi(ProofApiView):
    renderer_classes = [AnyFileRenderer]
    pagination_class = None
    serializer_class = ProofSerializer

    @extend_schema(
        operation_id="proofs_file",
        summary="Download a proof's photo or signature",
        description="The file itself (its own content type, `Cache-Control: private`), after "
        "the same access check as the proof's metadata. 404 when the proof has no such file.",
        parameters=[
            OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(POD_FILE_KINDS))
        ],
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file"),
        },
    )
    def get(self, request: Request, proof_id: int, kind: str) -> HttpResponseBase:
        if kind not in POD_FILE_KINDS:
            raise Http404("No such file: photo or signature.")
        proof = self.proof_or_404(proof_id)
        # A stored file never changes (a new upload gets a new random name): its name is its
        # version, so a client holding it gets a 304 without the file being opened.
        name = getattr(proof, kind).name or ""
        etag = '"' + hashlib.blake2b(name.encode(), digest_size=16).hexdigest() + '"'
        unchanged = get_conditional_response(request._request, etag=etag)
        if unchanged is not None and name:
            return unchanged
        response = pod_file_response(proof, kind)
        response["ETag"] = etag
        return response


class FailureReasonListApi(OrganizationApiView):
    serializer_class = OrganizationFailureReasonSerializer
    pagination_class = KeysetPagination  # by id
    queryset = FailureReason.objects.none()

    @extend_schema(
        operation_id="failure_reasons_list",
        summary="Failure reasons",
        description="Your organization's active reasons for a failed delivery: the "
        "`reason_code` a failed transition takes and an order's timeline names.",
        responses=OrganizationFailureReasonSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(failure_reason_list(organization_id=self.organization_id))
        return self.get_paginated_response(
            OrganizationFailureReasonSerializer(page, many=True).data
        )
