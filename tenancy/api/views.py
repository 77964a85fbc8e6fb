"""The base of every app's DRF views: the handler runs inside the organization that
authentication resolved (a token's, or the console member's)."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from ..context import tenant_context
from ..selectors import membership_hub_ids
from .models import ApiToken
from .permissions import HasTokenScope, IsOrganizationClient
from .ratelimit import rate_limit_enforce


class OrganizationApiView(GenericAPIView):
    """Runs the handler inside the scope of the organization the authentication resolved.

    DRF authenticates lazily inside the view, after the middleware's scope was entered, so the
    token's organization scope starts here (right after authentication) and ends with the
    response.
    """

    permission_classes = [IsOrganizationClient, HasTokenScope]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if isinstance(request.auth, ApiToken):
            # Per token, whatever address it comes from (the middleware limits per address).
            rate_limit_enforce(
                bucket="api-token",
                key=str(request.auth.pk),
                limit=settings.API_RATE_LIMIT_PER_TOKEN,
                period=settings.API_RATE_LIMIT_PERIOD,
            )
        self._scope = ExitStack()
        self._scope.enter_context(tenant_context(self.organization_id))

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        stack = getattr(self, "_scope", None)
        if stack is not None:
            stack.close()
        return super().finalize_response(request, response, *args, **kwargs)

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
