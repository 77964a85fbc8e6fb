from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenancy.models import TenantModel

LATITUDE = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE = [MinValueValidator(-180), MaxValueValidator(180)]


class Hub(TenantModel):
    """A depot: the last hub before the doorstep."""

    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=32)
    region = models.CharField(max_length=80, blank=True)
    address = models.CharField(max_length=255, blank=True)
    latitude = models.FloatField(validators=LATITUDE)
    longitude = models.FloatField(validators=LONGITUDE)
    # The default ETA provider's speed profile for this hub's area: straight-line distance times
    # the detour factor, driven at the average speed (see deliveries/eta.py).
    eta_speed_kmh = models.FloatField(
        "average speed for ETAs (km/h)",
        default=25,
        validators=[MinValueValidator(3), MaxValueValidator(130)],
    )
    eta_detour_factor = models.FloatField(
        "road detour factor for ETAs",
        default=1.35,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
    )
    # The API's `updated_since` (its lists filter on it; every writer saves it or bumps it).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="hub_code_unique_per_org")
        ]

    def __str__(self) -> str:
        return self.name


def validate_polygon_geojson(value: object) -> None:
    """A Zone's geometry: a GeoJSON Polygon, or a MultiPolygon of such polygons, with closed
    rings of [lon, lat] pairs (the first ring the outline, the others its holes)."""
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationError(
            'Geometry must be a GeoJSON object with "type": "Polygon" or "MultiPolygon".'
        )
    if value["type"] == "Polygon":
        _polygon_rings_check(value.get("coordinates"))
        return
    polygons = value.get("coordinates")
    if not isinstance(polygons, list) or not polygons:
        raise ValidationError("MultiPolygon needs at least one polygon of rings.")
    for rings in polygons:
        _polygon_rings_check(rings)


def _polygon_rings_check(rings: object) -> None:
    if not isinstance(rings, list) or not rings:
        raise ValidationError("Polygon needs at least one ring of coordinates.")
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise ValidationError("Each ring needs at least four [lon, lat] positions.")
        for point in ring:
            if (
                not isinstance(point, list | tuple)
                or len(point) < 2
                or not all(isinstance(c, int | float) for c in point[:2])
                or not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90)
            ):
                raise ValidationError(f"Invalid position {point!r}: expected [lon, lat].")
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise ValidationError("Each ring must be closed (first position equals last).")


class Zone(TenantModel):
    class Kind(models.TextChoices):
        GEOFENCE = "geofence", "Geofence"
        SERVICE_AREA = "service_area", "Service area"
        RESTRICTED = "restricted", "Restricted"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GEOFENCE)
    hub = models.ForeignKey(
        Hub, null=True, blank=True, on_delete=models.SET_NULL, related_name="zones"
    )
    geometry = models.JSONField(
        validators=[validate_polygon_geojson],
        help_text='GeoJSON Polygon, e.g. {"type": "Polygon", "coordinates": [[[lon, lat], ...]]}, '
        "or MultiPolygon",
    )
    color = models.CharField(max_length=7, default="#6366f1")
    # The API's `updated_since` (its lists filter on it; every writer saves it or bumps it).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
