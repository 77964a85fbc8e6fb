"""What every map page draws under its own layers (static/js/maps/base.js): the tile URL and the
vector base layer's URL, read in one place."""

from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse


def base_layer_url() -> str:
    """The vector base layer drawn where tiles cannot load; empty draws none.

    `MAP_BASE_LAYER_URL` (env `DOORSTEP_MAP_BASE_LAYER_URL`) when set, else the demo road
    network's endpoint when it is installed. Console members only: never for public pages."""
    configured = getattr(settings, "MAP_BASE_LAYER_URL", None)
    if configured is not None:
        return str(configured)
    try:
        return reverse("fleet:roads")
    except NoReverseMatch:
        return ""
