"""Resolve the organization once per request and run the request inside its scope."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django_scopes import scope, scopes_disabled

from .selectors import membership_for_user

SESSION_KEY = "organization_id"


class OrganizationScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = membership_for_user(
            user=request.user, organization_id=request.session.get(SESSION_KEY)
        )
        request.membership = membership  # type: ignore[attr-defined]
        request.organization = membership.organization if membership else None  # type: ignore[attr-defined]

        # The superuser runs the whole installation from Django admin and sees every tenant there.
        if request.user.is_superuser and request.path.startswith("/admin/"):
            with scopes_disabled():
                return self.get_response(request)
        # Without an organization the scope matches nothing, so tenant queries return no rows.
        with scope(organization=request.organization):  # type: ignore[attr-defined]
            return self.get_response(request)
