"""`{% map_data_attributes %}`: the shared map module's settings as data attributes of a map's
element (static/js/maps/base.js reads them), escaped like any attribute."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString

from fleet.basemap import base_layer_url

register = template.Library()


@register.simple_tag
def map_data_attributes(*, public: bool = False) -> SafeString:
    """Tiles and the vector base layer; `public=True` (pages without a login) leaves the base
    layer out, since its endpoint is for the organization's members."""
    return format_html(
        'data-tile-url="{}" data-tile-attribution="{}" data-base-layer-url="{}"',
        settings.MAP_TILE_URL,
        settings.MAP_TILE_ATTRIBUTION,
        "" if public else base_layer_url(),
    )
