"""Reads about who belongs where. These run before any organization scope exists."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django_scopes import scopes_disabled

from .models import Membership, Organization


def membership_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> list[Membership]:
    if not user.is_authenticated:
        return []
    with scopes_disabled():
        return list(
            Membership.objects.filter(user_id=user.pk)
            .select_related("organization")
            .order_by("organization__name")
        )


def membership_for_user(
    *, user: AbstractBaseUser | AnonymousUser, organization_id: int | None
) -> Membership | None:
    """The membership for the organization asked for, else the user's first one."""
    memberships = membership_list_for_user(user=user)
    for membership in memberships:
        if membership.organization_id == organization_id:
            return membership
    return memberships[0] if memberships else None


def membership_hub_ids(*, membership: Membership) -> list[int]:
    """Hub scope of a membership; an empty list means every hub of the organization."""
    with scopes_disabled():
        return list(membership.hubs.values_list("id", flat=True))


def organization_get(*, organization_id: int) -> Organization:
    return Organization.objects.get(pk=organization_id)
