"""The packet's map, drawn from the positions themselves (no map tiles: nothing is downloaded,
and the drawing is exactly the evidence): the trail, the address, where the proof was captured,
the arrival and departure points, a scale bar and north. Pure: facts in, a reportlab Drawing out."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from itertools import pairwise

from reportlab.graphics.shapes import (
    Circle,
    Drawing,
    Group,
    Line,
    Polygon,
    PolyLine,
    Rect,
    String,
)
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from .facts import PacketFacts

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON = 111_320.0
MIN_SPAN_M = 250.0  # never zoom in further than this, so a parked van still shows its street
CLOSE_UP_SPAN_M = 300.0  # the close-up: a few houses either side of the door
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
    places: list[tuple[float, float]],
    width: float,
    height: float,
    margin: float = 24.0,
    *,
    min_span_m: float = MIN_SPAN_M,
) -> Projection:
    lats = [lat for lat, _ in places]
    lons = [lon for _, lon in places]
    lat0, lon0 = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    probe = Projection(lat0, lon0, 1.0, 0.0, 0.0)
    xs, ys = zip(*(probe.metres(lat, lon) for lat, lon in places), strict=True)
    span_x = max(max(xs) - min(xs), min_span_m)
    span_y = max(max(ys) - min(ys), min_span_m)
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


def clip_segment(
    a: tuple[float, float], b: tuple[float, float], box: tuple[float, float, float, float]
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The part of segment a-b inside box (x0, y0, x1, y1), or None (Liang-Barsky)."""
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    low, high = 0.0, 1.0
    for p, q in ((-dx, ax - box[0]), (dx, box[2] - ax), (-dy, ay - box[1]), (dy, box[3] - ay)):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return None
    return (ax + low * dx, ay + low * dy), (ax + high * dx, ay + high * dy)


def clipped_runs(
    points: list[tuple[float, float]], box: tuple[float, float, float, float]
) -> list[list[tuple[float, float]]]:
    """The polyline cut to the box: one run per stretch that stays inside."""
    runs: list[list[tuple[float, float]]] = []
    for a, b in pairwise(points):
        part = clip_segment(a, b, box)
        if part is None:
            continue
        if runs and runs[-1][-1] == part[0]:
            runs[-1].append(part[1])
        else:
            runs.append([part[0], part[1]])
    return runs


class LabelPlacer:
    """Puts each label at the first of a few spots around its marker that overlaps no label
    or marker placed before (the stop's marks sit within metres of each other)."""

    SPOTS = ((8, 3, "start"), (8, -10, "start"), (-8, 3, "end"), (-8, -10, "end"),
             (8, 14, "start"), (-8, 14, "end"), (8, -21, "start"), (-8, -21, "end"))  # fmt: skip

    def __init__(self) -> None:
        self.taken: list[tuple[float, float, float, float]] = []

    def block(self, x: float, y: float, radius: float) -> None:
        self.taken.append((x - radius, y - radius, x + radius, y + radius))

    def place(self, group: Group, x: float, y: float, label: str, color: colors.Color) -> None:
        width = stringWidth(label, FONT, 7.5)
        chosen = None
        for dx, dy, anchor in self.SPOTS:
            left = x + dx if anchor == "start" else x + dx - width
            box = (left, y + dy - 2, left + width, y + dy + 7)
            if not any(_overlap(box, other) for other in self.taken):
                chosen = (dx, dy, anchor, box)
                break
        if chosen is None:  # crowded: the first spot, overlapping
            dx, dy, anchor = self.SPOTS[0]
            chosen = (dx, dy, anchor, (x + dx, y + dy - 2, x + dx + width, y + dy + 7))
        dx, dy, anchor, box = chosen
        self.taken.append(box)
        group.add(
            String(x + dx, y + dy, label, fontName=FONT, fontSize=7.5, fillColor=color,
                   textAnchor=anchor)
        )  # fmt: skip


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _marker(group: Group, x: float, y: float, color: colors.Color) -> None:
    group.add(Circle(x, y, 4.5, fillColor=color, strokeColor=colors.white, strokeWidth=1.5))


def _address(group: Group, x: float, y: float) -> None:
    group.add(
        Polygon(
            [x, y, x - 6, y + 10, x + 6, y + 10],
            fillColor=ADDRESS,
            strokeColor=colors.white,
            strokeWidth=1,
        )
    )
    group.add(Circle(x, y + 11, 6, fillColor=ADDRESS, strokeColor=colors.white, strokeWidth=1))


def _frame(group: Group, width: float, height: float, projection: Projection, title: str) -> None:
    group.add(Rect(0, 0, width, height, fillColor=None, strokeColor=MUTED, strokeWidth=0.5))
    group.add(String(8, height - 13, title, fontName=FONT, fontSize=8, fillColor=MUTED))
    bar_m = scale_bar_metres(projection.scale, width / 3)
    bar = bar_m * projection.scale
    group.add(Line(12, 12, 12 + bar, 12, strokeColor=INK, strokeWidth=2))
    for x in (12, 12 + bar):
        group.add(Line(x, 9, x, 15, strokeColor=INK, strokeWidth=1))
    label = f"{bar_m // 1000} km" if bar_m >= 1000 else f"{bar_m} m"
    group.add(String(12 + bar + 5, 9, label, fontName=FONT, fontSize=7.5, fillColor=INK))
    top, right = height - 12, width - 16
    group.add(
        Polygon(
            [right, top, right - 4, top - 12, right + 4, top - 12], fillColor=INK, strokeWidth=0
        )
    )
    group.add(
        String(right, top - 22, "N", fontName=FONT, fontSize=8, fillColor=INK, textAnchor="middle")
    )


def _visit_places(facts: PacketFacts) -> list[tuple[str, tuple[float, float]]]:
    visit = next((a for a in reversed(facts.attempts) if a.arrival or a.departure), None)
    if visit is None:
        return []
    found = []
    for label, moment in (("Arrived", visit.arrival), ("Departed", visit.departure)):
        place = _nearest(facts, _epoch(moment))
        if place is not None:
            found.append((label, place))
    return found


def _stop_places(facts: PacketFacts) -> list[tuple[float, float]]:
    """What the close-up must show: the address, the proofs' stamps, the visit's positions."""
    order = facts.order
    places = [(lat, lon) for _, (lat, lon) in _visit_places(facts)]
    if order.latitude is not None and order.longitude is not None:
        places.append((order.latitude, order.longitude))
    places += [
        (proof.latitude, proof.longitude)
        for proof in facts.proofs
        if proof.latitude is not None and proof.longitude is not None
    ]
    return places


def _panel(facts: PacketFacts, width: float, height: float, *, close_up: bool) -> Group:
    group = Group()
    group.add(Rect(0, 0, width, height, fillColor=PAPER, strokeColor=None))
    fit = _stop_places(facts) if close_up else _places(facts)
    projection = projection_fit(
        fit, width, height, min_span_m=CLOSE_UP_SPAN_M if close_up else MIN_SPAN_M
    )
    points = [projection.point(lat, lon) for _, lat, lon, _ in facts.trail.points]
    for run in clipped_runs(points, (1.0, 1.0, width - 1.0, height - 1.0)):
        flat = [coordinate for point in run for coordinate in point]
        group.add(PolyLine(flat, strokeColor=TRAIL, strokeWidth=1.8, strokeLineJoin=1))
    if points and not close_up:
        group.add(Circle(*points[0], 2.5, fillColor=MUTED, strokeColor=None))
        group.add(Circle(*points[-1], 2.5, fillColor=INK, strokeColor=None))
    _stamps(group, facts, projection, labelled=close_up)
    title = "Around the stop" if close_up else "The whole trail"
    _frame(group, width, height, projection, title)
    return group


def trail_drawing(facts: PacketFacts, width: float, height: float) -> Drawing:
    """Two panels: a close-up around the stop (labelled) and the whole trail; one panel when
    there is nothing to centre a close-up on."""
    drawing = Drawing(width, height)
    if not _places(facts):
        drawing.add(Rect(0, 0, width, height, fillColor=PAPER, strokeColor=MUTED, strokeWidth=0.5))
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
    if not _stop_places(facts):
        drawing.add(_panel(facts, width, height, close_up=False))
        return drawing
    gap = 8.0
    half = (width - gap) / 2
    drawing.add(_panel(facts, half, height, close_up=True))
    overview = _panel(facts, half, height, close_up=False)
    overview.translate(half + gap, 0)
    drawing.add(overview)
    return drawing


def _stamps(group: Group, facts: PacketFacts, projection: Projection, *, labelled: bool) -> None:
    order = facts.order
    address = (
        projection.point(order.latitude, order.longitude)
        if order.latitude is not None and order.longitude is not None
        else None
    )
    labels: list[tuple[float, float, str, colors.Color]] = []
    placer = LabelPlacer()
    if address is not None:  # first: the visit's and the proof's marks are drawn over it
        _address(group, *address)
        placer.block(address[0], address[1] + 8, 7)
        labels.append((address[0], address[1] + 8, "Address", ADDRESS))
    for proof in facts.proofs:
        if proof.latitude is None or proof.longitude is None:
            continue
        x, y = projection.point(proof.latitude, proof.longitude)
        if proof.accuracy_m:
            radius = max(proof.accuracy_m * projection.scale, 3)
            group.add(
                Circle(x, y, radius, fillColor=None, strokeColor=PROOF, strokeDashArray=[2, 2])
            )
        if address is not None:
            group.add(
                Line(x, y, *address, strokeColor=PROOF, strokeWidth=0.8, strokeDashArray=[3, 2])
            )
        _marker(group, x, y, PROOF)
        placer.block(x, y, 5)
        labels.append((x, y, "Proof captured", PROOF))
    visits = [(label, projection.point(*place)) for label, place in _visit_places(facts)]
    if len(visits) == 2 and math.dist(visits[0][1], visits[1][1]) < 12:
        visits = [("Arrived and departed", visits[0][1])]
    for label, (x, y) in visits:
        _marker(group, x, y, ARRIVAL)
        placer.block(x, y, 5)
        labels.append((x, y, label, INK))
    if labelled:
        for x, y, label, color in labels:
            placer.place(group, x, y, label, color)
