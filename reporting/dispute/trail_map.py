"""The packet's map, drawn from the positions themselves (no map tiles: nothing is downloaded,
and the drawing is exactly the evidence): the trail, the address, where the proof was captured,
the arrival and departure points, a scale bar and north. Pure: facts in, a reportlab Drawing out."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors

from .facts import PacketFacts

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON = 111_320.0
MIN_SPAN_M = 250.0  # never zoom in further than this, so a parked van still shows its street
SCALE_STEPS_M = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)

TRAIL = colors.HexColor("#2563eb")
ADDRESS = colors.HexColor("#dc2626")
PROOF = colors.HexColor("#16a34a")
ARRIVAL = colors.HexColor("#d97706")
INK = colors.HexColor("#1f2937")
MUTED = colors.HexColor("#6b7280")
PAPER = colors.HexColor("#f8fafc")
FONT = "Helvetica"


@dataclass(frozen=True)
class Projection:
    """Local metres around a centre (equirectangular: exact enough over a few kilometres),
    scaled into the drawing's box."""

    lat0: float
    lon0: float
    scale: float  # points per metre
    x0: float
    y0: float

    def metres(self, lat: float, lon: float) -> tuple[float, float]:
        return (
            (lon - self.lon0) * METRES_PER_DEGREE_LON * math.cos(math.radians(self.lat0)),
            (lat - self.lat0) * METRES_PER_DEGREE_LAT,
        )

    def point(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = self.metres(lat, lon)
        return self.x0 + x * self.scale, self.y0 + y * self.scale


def _places(facts: PacketFacts) -> list[tuple[float, float]]:
    places = [(lat, lon) for _, lat, lon, _ in facts.trail.points]
    if facts.order.latitude is not None and facts.order.longitude is not None:
        places.append((facts.order.latitude, facts.order.longitude))
    places += [
        (proof.latitude, proof.longitude)
        for proof in facts.proofs
        if proof.latitude is not None and proof.longitude is not None
    ]
    return places


def projection_fit(
    places: list[tuple[float, float]], width: float, height: float, margin: float = 24.0
) -> Projection:
    lats = [lat for lat, _ in places]
    lons = [lon for _, lon in places]
    lat0, lon0 = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    probe = Projection(lat0, lon0, 1.0, 0.0, 0.0)
    xs, ys = zip(*(probe.metres(lat, lon) for lat, lon in places), strict=True)
    span_x = max(max(xs) - min(xs), MIN_SPAN_M)
    span_y = max(max(ys) - min(ys), MIN_SPAN_M)
    scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
    centre_x = (max(xs) + min(xs)) / 2
    centre_y = (max(ys) + min(ys)) / 2
    return Projection(
        lat0, lon0, scale, width / 2 - centre_x * scale, height / 2 - centre_y * scale
    )


def scale_bar_metres(points_per_metre: float, max_points: float) -> int:
    """The largest round length whose bar fits in `max_points`."""
    fitting = [step for step in SCALE_STEPS_M if step * points_per_metre <= max_points]
    return fitting[-1] if fitting else SCALE_STEPS_M[0]


def _epoch(value: str | None) -> float | None:
    return None if value is None else dt.datetime.fromisoformat(value).timestamp()


def _nearest(facts: PacketFacts, moment: float | None) -> tuple[float, float] | None:
    if moment is None or not facts.trail.points:
        return None
    nearest = min(facts.trail.points, key=lambda point: abs(point[0] - moment))
    return nearest[1], nearest[2]


def _marker(drawing: Drawing, x: float, y: float, color: colors.Color, label: str) -> None:
    drawing.add(Circle(x, y, 5, fillColor=color, strokeColor=colors.white, strokeWidth=1.5))
    drawing.add(String(x + 8, y + 4, label, fontName=FONT, fontSize=7.5, fillColor=INK))


def _address(drawing: Drawing, x: float, y: float) -> None:
    drawing.add(
        Polygon(
            [x, y, x - 6, y + 10, x + 6, y + 10],
            fillColor=ADDRESS,
            strokeColor=colors.white,
            strokeWidth=1,
        )
    )
    drawing.add(Circle(x, y + 11, 6, fillColor=ADDRESS, strokeColor=colors.white, strokeWidth=1))
    drawing.add(String(x + 9, y + 12, "Address", fontName=FONT, fontSize=7.5, fillColor=ADDRESS))


def _frame(drawing: Drawing, width: float, height: float, projection: Projection) -> None:
    bar_m = scale_bar_metres(projection.scale, width / 4)
    bar = bar_m * projection.scale
    drawing.add(Line(12, 12, 12 + bar, 12, strokeColor=INK, strokeWidth=2))
    for x in (12, 12 + bar):
        drawing.add(Line(x, 9, x, 15, strokeColor=INK, strokeWidth=1))
    label = f"{bar_m // 1000} km" if bar_m >= 1000 else f"{bar_m} m"
    drawing.add(String(12 + bar + 5, 9, label, fontName=FONT, fontSize=7.5, fillColor=INK))
    top, right = height - 12, width - 16
    drawing.add(
        Polygon(
            [right, top, right - 4, top - 12, right + 4, top - 12], fillColor=INK, strokeWidth=0
        )
    )
    drawing.add(
        String(right, top - 22, "N", fontName=FONT, fontSize=8, fillColor=INK, textAnchor="middle")
    )


def trail_drawing(facts: PacketFacts, width: float, height: float) -> Drawing:
    drawing = Drawing(width, height)
    drawing.add(Rect(0, 0, width, height, fillColor=PAPER, strokeColor=MUTED, strokeWidth=0.5))
    places = _places(facts)
    if not places:
        drawing.add(
            String(
                width / 2,
                height / 2,
                "No positions and no address coordinates to draw.",
                fontName=FONT,
                fontSize=9,
                fillColor=MUTED,
                textAnchor="middle",
            )
        )
        return drawing
    projection = projection_fit(places, width, height)
    points = [projection.point(lat, lon) for _, lat, lon, _ in facts.trail.points]
    if len(points) >= 2:
        flat = [coordinate for point in points for coordinate in point]
        drawing.add(PolyLine(flat, strokeColor=TRAIL, strokeWidth=1.8, strokeLineJoin=1))
    if points:
        drawing.add(Circle(*points[0], 2.5, fillColor=MUTED, strokeColor=None))
        drawing.add(Circle(*points[-1], 2.5, fillColor=INK, strokeColor=None))
    _stamps(drawing, facts, projection)
    _frame(drawing, width, height, projection)
    return drawing


def _stamps(drawing: Drawing, facts: PacketFacts, projection: Projection) -> None:
    order = facts.order
    address = (
        projection.point(order.latitude, order.longitude)
        if order.latitude is not None and order.longitude is not None
        else None
    )
    for proof in facts.proofs:
        if proof.latitude is None or proof.longitude is None:
            continue
        x, y = projection.point(proof.latitude, proof.longitude)
        if proof.accuracy_m:
            radius = max(proof.accuracy_m * projection.scale, 3)
            drawing.add(
                Circle(x, y, radius, fillColor=None, strokeColor=PROOF, strokeDashArray=[2, 2])
            )
        if address is not None:
            drawing.add(
                Line(x, y, *address, strokeColor=PROOF, strokeWidth=0.8, strokeDashArray=[3, 2])
            )
        _marker(drawing, x, y, PROOF, "Proof captured")
    visit = next((a for a in reversed(facts.attempts) if a.arrival or a.departure), None)
    if visit is not None:
        for label, moment in (("Arrived", visit.arrival), ("Departed", visit.departure)):
            place = _nearest(facts, _epoch(moment))
            if place is not None:
                _marker(drawing, *projection.point(*place), ARRIVAL, label)
    if address is not None:
        _address(drawing, *address)
