"""What every deliveries view reads off its request: the member's organization and hub scope,
the organization's today, and whether htmx asked for a partial."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.http import HttpRequest
from django.utils import timezone

from tenancy.selectors import membership_hub_ids


def request_scope(request: HttpRequest) -> tuple[int, list[int] | None]:
    """(organization id, hub ids) of the signed-in member; None hubs means every hub."""
    membership = request.membership  # type: ignore[attr-defined]
    return membership.organization_id, membership_hub_ids(membership=membership) or None


def request_today(request: HttpRequest) -> dt.date:
    """Today in the organization's time zone (a route's day is the organization's)."""
    zone = zoneinfo.ZoneInfo(request.organization.timezone)  # type: ignore[attr-defined]
    return timezone.localdate(timezone=zone)


def is_partial(request: HttpRequest) -> bool:
    """htmx asked for a fragment (not a boosted full-page navigation)."""
    return bool(request.htmx and not request.htmx.boosted)  # type: ignore[attr-defined]
