"""Proof-of-delivery reads: who may see which proofs (the console's files, the API)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tenancy.context import require_organization

from ..models import ProofOfDelivery


def proof_list(
    *, organization_id: int, hub_ids: list[int] | None = None, driver_user: Any = None
) -> QuerySet[ProofOfDelivery]:
    """The organization's proofs, newest first: of `hub_ids`' orders when given; of the orders
    on `driver_user`'s routes only, for a driver."""
    require_organization(organization_id)
    proofs = ProofOfDelivery.objects.filter(organization_id=organization_id).select_related(
        "order", "captured_by"
    )
    if driver_user is not None:
        return proofs.filter(order__stops__route__driver__user=driver_user).distinct()
    return proofs.filter(order__hub_id__in=hub_ids) if hub_ids else proofs
