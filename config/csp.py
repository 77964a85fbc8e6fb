"""Pieces of the Content-Security-Policy that depend on other settings (see config/settings/base.py)."""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# Leaflet's URL placeholders: {s} (subdomain), {z}/{x}/{y}, {r}, and any custom option.
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def tile_source(tile_url: str) -> str | None:
    """The CSP source expression that admits the base map's tiles, or None when 'self' covers them.

    `https://{s}.tile.example.org/{z}/{x}/{y}.png` -> `https://*.tile.example.org`: a placeholder in
    the host name stands for any subdomain. A relative URL (tiles served by ourselves) needs nothing.
    """
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    labels = host.split(".")
    if _PLACEHOLDER.search(labels[0]):
        labels[0] = "*"
    if any(_PLACEHOLDER.search(label) for label in labels):
        raise ImproperlyConfigured(
            f"DOORSTEP_MAP_TILE_URL {tile_url!r}: a placeholder is allowed only in the first label "
            "of the host name (the Content-Security-Policy must name the tile host)"
        )
    return f"{parts.scheme}://{'.'.join(labels)}"
