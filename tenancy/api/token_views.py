"""API tokens over the API: list, create (the token shown once), revoke, and the scopes a token
can hold. Admin only: the `admin` scope for a token, the admin role for a console member."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ..models import Role
from .filters import StrictFilterBackend, updated_since_filterset
from .models import ApiToken, Scope
from .pagination import KeysetPagination
from .serializers import EmptyInputSerializer, StrictInputSerializer, shown_once_field
from .tokens import api_token_create, api_token_list, api_token_revoke
from .views import OrganizationApiView, created


class ApiTokenSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A token as the API shows it: never its value (only a hash is kept)."""

    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))

    class Meta:
        model = ApiToken
        fields = ["id", "name", "scopes", "active", "created_at", "last_used_at", "updated_at"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    # Only its hash is kept. Sent as `Authorization: Token <token>`.
    token = shown_once_field("The token")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenInputSerializer(StrictInputSerializer):
    name = serializers.CharField(min_length=1, max_length=80, help_text="Whose integration.")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices),
        min_length=1,
        max_length=len(Scope.choices),
        help_text="read, orders, tracking, admin (admin implies all; every token reads). A "
        "token can grant only scopes it holds.",
    )


class ScopeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    value = serializers.ChoiceField(choices=Scope.choices)
    description = serializers.CharField(help_text="What a token with it may do.")


class ApiTokenApiView(OrganizationApiView):
    read_scope = Scope.ADMIN
    write_scope = Scope.ADMIN
    read_roles = (Role.ADMIN,)
    write_roles = (Role.ADMIN,)
    queryset = ApiToken.objects.none()
    pagination_class: type[KeysetPagination] | None = KeysetPagination  # by id

    def token_or_404(self, token_id: int) -> ApiToken:
        try:
            return api_token_list(organization_id=self.organization_id).get(pk=token_id)
        except ApiToken.DoesNotExist as exc:
            raise Http404("No such API token.") from exc


# Its use is not a change: `last_used_at` moves without `updated_at` (api_token_touch).
ApiTokenFilterSet = updated_since_filterset(ApiToken, "Tokens whose name, scopes or active flag")


class ApiTokenListCreateApi(ApiTokenApiView):
    serializer_class = ApiTokenSerializer
    filterset_class = ApiTokenFilterSet
    filter_backends = [StrictFilterBackend]
    shown_once = ("token",)

    @extend_schema(
        operation_id="tokens_list",
        summary="List API tokens",
        description="Your organization's tokens in creation order, revoked ones included "
        "(`active: false`); never their values. With `updated_since`, those whose name, "
        "scopes or active flag changed since (a token's use is not a change).",
        responses=ApiTokenSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        tokens = api_token_list(organization_id=self.organization_id)
        page = self.paginate_queryset(self.filter_queryset(tokens))
        return self.get_paginated_response(ApiTokenSerializer(page, many=True).data)

    @extend_schema(
        operation_id="tokens_create",
        summary="Create an API token",
        description="Answers the new token once (only its hash is kept). A token cannot grant "
        "a scope it does not hold (403).",
        request=ApiTokenInputSerializer,
        responses={201: OpenApiResponse(ApiTokenCreatedSerializer, description="Created")},
    )
    def post(self, request: Request) -> Response:
        data = ApiTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, plain = api_token_create(
            organization_id=self.organization_id,
            name=data.validated_data["name"],
            scopes=data.validated_data["scopes"],
            granted_by=request.auth if isinstance(request.auth, ApiToken) else None,
        )
        body = {**ApiTokenSerializer(token).data, "token": plain}  # ApiTokenCreatedSerializer
        location = reverse("tenancy-api:token_detail", kwargs={"token_id": token.pk})
        return created(body, location)


class ApiTokenDetailApi(ApiTokenApiView):
    serializer_class = ApiTokenSerializer
    pagination_class = None

    @extend_schema(operation_id="tokens_retrieve", summary="Read an API token")
    def get(self, request: Request, token_id: int) -> Response:
        return Response(ApiTokenSerializer(self.token_or_404(token_id)).data)


class ApiTokenRevokeApi(ApiTokenApiView):
    serializer_class = EmptyInputSerializer
    pagination_class = None

    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke an API token",
        description="The token authenticates nothing from its next request on. Revoking a "
        "revoked token answers it unchanged. A token cannot revoke itself (409): create its "
        "successor, switch to it, then revoke the old one with the new one.",
        request=EmptyInputSerializer,
        responses={
            200: ApiTokenSerializer,
            409: OpenApiResponse(description="The token asked to revoke itself"),
        },
    )
    def post(self, request: Request, token_id: int) -> Response:
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        self.token_or_404(token_id)
        token = api_token_revoke(
            organization_id=self.organization_id,
            token_id=token_id,
            revoked_by=request.auth if isinstance(request.auth, ApiToken) else None,
        )
        return Response(ApiTokenSerializer(token).data)


class ScopeListApi(ApiTokenApiView):
    serializer_class = ScopeSerializer
    pagination_class = None

    @extend_schema(
        operation_id="tokens_scopes_list",
        summary="The scopes a token can hold",
        responses=ScopeSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        scopes = [{"value": value, "description": label} for value, label in Scope.choices]
        return Response(ScopeSerializer(scopes, many=True).data)
