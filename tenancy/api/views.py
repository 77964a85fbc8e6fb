"""The base of every app's DRF views: the handler runs inside the organization that
authentication resolved (a token's, or the console member's)."""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from ..context import tenant_context
from ..selectors import membership_hub_ids
from .feed import event_feed_page
from .models import ApiToken
from .pagination import DEFAULT_LIMIT, MAX_LIMIT, strict_int
from .permissions import HasConsoleRole, HasTokenScope, IsOrganizationClient
from .receipts import HEADER, IdempotencyGuard, IdempotentReplay


def created(body: Any, location: str) -> Response:
    """A create's answer: 201 with the new resource and its `Location`."""
    return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


class OrganizationApiView(GenericAPIView):
    """Runs the handler inside the scope of the organization the authentication resolved.

    DRF authenticates lazily inside the view, after the middleware's scope was entered, so the
    token's organization scope starts here (right after authentication) and ends with the
    response.
    """

    permission_classes = [IsOrganizationClient, HasTokenScope, HasConsoleRole]
    # Body members of a POST's answer that are shown once (a new token): an idempotent replay
    # answers them as null, so the plain secret is never stored in a receipt.
    shown_once: tuple[str, ...] = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._scope = ExitStack()
        self._scope.enter_context(tenant_context(self.organization_id))
        if request.method == "POST" and request.headers.get(HEADER) is not None:
            self._idempotency = IdempotencyGuard(
                organization_id=self.organization_id, request=request
            )
            self._idempotency.begin()  # raises IdempotentReplay with a stored answer

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, IdempotentReplay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        guard = getattr(self, "_idempotency", None)
        if guard is not None:
            guard.finish(
                response, redact=self.shown_once
            )  # inside the organization's scope: the receipt is its row
        stack = getattr(self, "_scope", None)
        if stack is not None:
            stack.close()
        return super().finalize_response(request, response, *args, **kwargs)

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            # Even after a bug (no finalize_response then): the organization's scope ends with
            # the request, and the key's next request must not hang on its lock.
            stack = getattr(self, "_scope", None)
            if stack is not None:
                stack.close()
            guard = getattr(self, "_idempotency", None)
            if guard is not None:
                guard.release()

    @property
    def organization_id(self) -> int:
        return int(self.request._request.organization.pk)  # type: ignore[attr-defined]

    @property
    def hub_ids(self) -> list[int] | None:
        membership = getattr(self.request._request, "membership", None)
        return membership_hub_ids(membership=membership) or None if membership else None

    @property
    def actor(self) -> AbstractBaseUser | None:
        user = self.request.user
        return user if isinstance(user, AbstractBaseUser) else None

    @property
    def by_token(self) -> bool:
        """True for an integration's token, False for a console member's session."""
        return isinstance(self.request.auth, ApiToken)


class FeedEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="e.g. order.status_changed, alert.opened.")
    aggregate = serializers.CharField(help_text="What changed: order, stop, route, alert...")
    aggregate_id = serializers.IntegerField()
    payload = serializers.DictField(help_text="The event's facts (the webhooks' payload).")
    occurred_at = serializers.DateTimeField()


class FeedPageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = FeedEventSerializer(many=True)
    next_cursor = serializers.CharField(
        help_text="Pass as `since` to read on; the same cursor when nothing new is final yet."
    )
    has_more = serializers.BooleanField(help_text="More events are ready: read on at once.")
    next = serializers.URLField(help_text="The URL of the next read.")


class EventFeedApi(OrganizationApiView):
    """GET /api/v1/events/: the organization's domain events in order (tenancy/api/feed.py)."""

    pagination_class = None
    serializer_class = FeedPageSerializer

    @extend_schema(
        operation_id="events_list",
        summary="The event feed",
        description=(
            "Every domain event of your organization (order created and status changes, "
            "ETA changes, stops, routes, alerts...), in one fixed order. Start without `since`, "
            "then pass each answer's `next_cursor` as `since`: no event is ever skipped or "
            "repeated, even when transactions commit out of order. An empty page keeps the "
            "cursor; poll again after a second or two (read on at once while `has_more`)."
        ),
        parameters=[
            OpenApiParameter(
                "since",
                str,
                description="A `next_cursor` from an earlier read; omit to start at the beginning.",
            ),
            OpenApiParameter(
                "limit",
                int,
                description=f"Events per read (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
            ),
        ],
        responses=FeedPageSerializer,
    )
    def get(self, request: Request) -> Response:
        limit = strict_int(request, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
        page = event_feed_page(
            organization_id=self.organization_id,
            since=request.query_params.get("since"),
            limit=limit,
        )
        url = replace_query_param(request.build_absolute_uri(), "since", page.next_cursor)
        data = {
            "results": [dataclasses.asdict(event) for event in page.events],
            "next_cursor": page.next_cursor,
            "has_more": page.has_more,
            "next": url,
        }
        return Response(FeedPageSerializer(data).data)
