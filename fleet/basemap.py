"""What every map page draws under its own layers (static/js/maps/base.js): the tile URL and the
vector base layer's URL, read in one place."""

from __future__ import annotations

from django.conf import settings


def base_layer_url() -> str:
    """The vector base layer drawn where tiles cannot load; empty draws none.

    `MAP_BASE_LAYER_URL` (env `DOORSTEP_MAP_BASE_LAYER_URL`; the demo road network's endpoint
    by default when the demo app is installed, config/settings/base.py). Console members only: never for public pages."""
    return str(settings.MAP_BASE_LAYER_URL)
