"""The open-alert badge in the navigation of every console page.

One indexed count per organization and hub scope, cached for a few seconds under a generation
number that every alert event bumps (alerts/live.py), so a page view mostly costs one cache
read and no query; the page's socket keeps the badge current afterwards."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest

from tenancy.context import current_context
from tenancy.permissions import CONSOLE_ROLES

from .live import open_count_generation_key
from .selectors import alert_open_count

CACHE_SECONDS = 15


def open_alerts(request: HttpRequest) -> dict[str, object]:
    membership = getattr(request, "membership", None)
    context = current_context()
    if membership is None or membership.role not in CONSOLE_ROLES or context is None:
        return {}
    if context.access != "tenant" or context.organization_id != membership.organization_id:
        return {}
    organization_id = membership.organization_id
    hubs = ",".join(str(h) for h in sorted(context.hub_ids))
    try:
        generation = cache.get(open_count_generation_key(organization_id), 0)
        key = f"alerts:open-count:{organization_id}:{generation}:{hubs}"
        count = cache.get(key)
    except Exception:  # no cache: count every time
        key, count = "", None
    if count is None:
        count = alert_open_count(organization_id=organization_id, hub_ids=context.hub_ids)
        if key:
            cache.set(key, count, CACHE_SECONDS)
    return {"alerts_open_count": count, "alerts_live": True}
