"""Resolve the tenant context once per request and run the request inside it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import no_tenant, operator_context, tenant_context
from .selectors import membership_for_user, membership_hub_ids

SESSION_KEY = "organization_id"


class OrganizationScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        user_id = user.pk if user.is_authenticated else None
        # Before an organization is chosen the user may read only their own memberships.
        with no_tenant(user_id=user_id):
            membership = membership_for_user(
                user=user, organization_id=request.session.get(SESSION_KEY)
            )
            hub_ids = membership_hub_ids(membership=membership) if membership else []
        request.membership = membership  # type: ignore[attr-defined]
        request.organization = membership.organization if membership else None  # type: ignore[attr-defined]

        # The superuser runs the whole installation from Django admin and sees every tenant there.
        if user.is_superuser and request.path.startswith("/admin/"):
            with operator_context():
                return self.get_response(request)
        if membership is None:
            # No organization (anonymous, no membership, an API token not yet authenticated):
            # a scope that matches nothing, and no organization on the database connection.
            with no_tenant(user_id=user_id):
                return self.get_response(request)
        with tenant_context(
            membership.organization, membership=membership, user_id=user_id, hub_ids=hub_ids
        ):
            return self.get_response(request)
