"""Writes of fleet data: validated, atomic, for the organization given (whose tenant context the
caller entered: `require_organization` checks it)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from tenancy.context import require_organization

from .live.filters import FilterError, interval_parse, live_filter_parse
from .models import SavedView, SavedViewDefault
from .selectors import zone_geometries


@transaction.atomic
def saved_view_create(
    *,
    organization_id: int,
    owner_id: int,
    name: str,
    filters: Any,
    refresh_seconds: Any = 5,
    shared: bool = False,
    make_default: bool = False,
    hub_ids: list[int] | None = None,
) -> SavedView:
    """`hub_ids`: the owner's hub scope; a zone outside it is refused like an unknown one."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationError({"name": "Give the view a name of 1 to 80 characters."})
    try:
        zones = zone_geometries(organization_id=organization_id, hub_ids=hub_ids)
        live_filter_parse(filters, zone_geometries=zones)
        refresh = interval_parse(refresh_seconds)
    except FilterError as exc:
        raise ValidationError({"filters": str(exc)}) from exc
    require_organization(organization_id)
    view = SavedView.objects.create(
        organization_id=organization_id,
        owner_id=owner_id,
        name=name,
        filters=filters or {},
        refresh_seconds=refresh,
        shared=bool(shared),
    )
    if make_default:
        saved_view_make_default(organization_id=organization_id, user_id=owner_id, view=view)
    return view


def saved_view_make_default(*, organization_id: int, user_id: int, view: SavedView) -> None:
    require_organization(organization_id)
    SavedViewDefault.objects.update_or_create(
        organization_id=organization_id, user_id=user_id, defaults={"view": view}
    )


def saved_view_delete(*, organization_id: int, user_id: int, view: SavedView) -> None:
    """Only the owner deletes a view; a shared view stays for everybody else until then."""
    if view.owner_id != user_id:
        raise PermissionDenied("Only the owner can delete this view.")
    require_organization(organization_id)
    view.delete()
