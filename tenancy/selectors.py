"""Reads about who belongs where. These run before any organization scope exists."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from .context import no_tenant, require_organization
from .models import Membership, Organization


def membership_list_for_user(*, user: AbstractBaseUser | AnonymousUser) -> list[Membership]:
    if not user.is_authenticated:
        return []
    # Across organizations by design: the ORM guard is stepped over for this one query, and
    # the database's policy on memberships still shows only rows of this user (or of the
    # organization in context), see tenancy/rls.py.
    # The user's own rows whatever the caller's context (a tenant's, none, a worker thread's).
    with no_tenant(user_id=user.pk):
        return _memberships_of(user.pk)


def _memberships_of(user_id: int) -> list[Membership]:
    return list(
        Membership.objects.with_scopes_disabled()  # type: ignore[attr-defined]
        .filter(user_id=user_id)
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
    # The link table only: it needs no organization scope and reads no hub row.
    through = Membership.hubs.through
    return list(
        through.objects.filter(membership_id=membership.pk).values_list("hub_id", flat=True)
    )


def memberships_in_organization(
    *, organization_id: int, user_ids: Iterable[int]
) -> dict[int, tuple[Membership, list[int]]]:
    """The memberships of these users in one organization, each with its hub scope (see
    `membership_hub_ids`), in two queries. Call inside that organization's context."""
    require_organization(organization_id)
    memberships = list(
        Membership.objects.filter(organization_id=organization_id, user_id__in=set(user_ids))
    )
    through = Membership.hubs.through
    hubs: dict[int, list[int]] = {membership.pk: [] for membership in memberships}
    for membership_id, hub_id in through.objects.filter(membership_id__in=list(hubs)).values_list(
        "membership_id", "hub_id"
    ):
        hubs[membership_id].append(hub_id)
    return {membership.user_id: (membership, hubs[membership.pk]) for membership in memberships}


def organization_get(*, organization_id: int) -> Organization:
    return Organization.objects.get(pk=organization_id)
