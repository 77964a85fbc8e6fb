"""The packet as a PDF (reportlab), drawn only from the facts document, with its content hash
on every page. Pure: facts, images and the hash in, bytes out; the same input gives the same
bytes (reportlab's invariant mode: no creation time or random id in the file).

Text from the database goes into Paragraphs escaped: reportlab parses their markup."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from .facts import AttemptFacts, PacketFacts, PacketImages, ProofFacts
from .trail_map import trail_drawing

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 16 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
# A Unicode font when the system has one (names are not all Latin-1); reportlab's own Vera else.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)
HASH_LABEL = "Content SHA-256"
GRID = colors.HexColor("#d1d5db")
HEAD = colors.HexColor("#f3f4f6")
MUTED = colors.HexColor("#6b7280")


def _fonts() -> tuple[str, str]:
    regular, bold = FONT_CANDIDATES
    if "PacketSans" not in pdfmetrics.getRegisteredFontNames():
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("PacketSans", str(regular)))
            pdfmetrics.registerFont(TTFont("PacketSans-Bold", str(bold)))
        else:
            pdfmetrics.registerFont(TTFont("PacketSans", "Vera.ttf"))
            pdfmetrics.registerFont(TTFont("PacketSans-Bold", "VeraBd.ttf"))
    return "PacketSans", "PacketSans-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=regular, fontSize=9, leading=12)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=17, leading=21),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=bold, fontSize=11.5, leading=15, spaceBefore=10
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5, textColor=MUTED),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
        "head": ParagraphStyle("head", parent=body, fontName=bold, fontSize=8, leading=10),
        "hash": ParagraphStyle("hash", parent=body, fontName="Courier", fontSize=8.5, leading=11),
    }


class PacketWriter:
    """Lays out one packet; each section is a short method."""

    def __init__(
        self,
        facts: PacketFacts,
        images: PacketImages,
        content_sha256: str,
        generated_at: dt.datetime,
    ) -> None:
        self.facts = facts
        self.images = images
        self.content_sha256 = content_sha256
        self.generated_at = generated_at
        self.zone = zoneinfo.ZoneInfo(facts.timezone)
        self.styles = _styles()

    # ---- formatting
    def when(self, value: str | None, *, date: bool = True, short: bool = False) -> str:
        if not value:
            return "—"
        moment = dt.datetime.fromisoformat(value).astimezone(self.zone)
        if not date:
            return moment.strftime("%H:%M:%S %Z")
        return moment.strftime("%d %b %Y %H:%M:%S %Z" if short else "%a %d %b %Y, %H:%M:%S %Z")

    def p(self, text: str, style: str = "body") -> Paragraph:
        return Paragraph(escape(text), self.styles[style])

    def table(self, rows: list[list[str]], widths: list[float], *, header: bool = True) -> Table:
        cells = [
            [self.p(text, "head" if header and index == 0 else "cell") for text in row]
            for index, row in enumerate(rows)
        ]
        table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
        style = [
            ("GRID", (0, 0), (-1, -1), 0.4, GRID),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), HEAD))
        table.setStyle(TableStyle(style))
        return table

    def facts_table(self, pairs: list[tuple[str, str]]) -> Table:
        table = self.table(
            [[k, v] for k, v in pairs], [45 * mm, CONTENT_WIDTH - 45 * mm], header=False
        )
        table.setStyle(TableStyle([("BACKGROUND", (0, 0), (0, -1), HEAD)]))
        return table

    # ---- sections
    def header(self) -> list[Flowable]:
        order = self.facts.order
        generated = self.generated_at.astimezone(self.zone).isoformat(timespec="seconds")
        return [
            self.p(f"Dispute packet — order {order.reference}", "title"),
            self.p(f"{self.facts.organization} · all times in {self.facts.timezone}", "small"),
            self.p(f"Generated {self.when(generated)}", "small"),
            Spacer(1, 4),
            self.p(f"{HASH_LABEL}: {self.content_sha256}", "hash"),
            self.p(
                "The SHA-256 of this packet's facts document (stored when it was issued). "
                "Upload a copy on the verify page to check it against the stored packet.",
                "small",
            ),
        ]

    def order_section(self) -> list[Flowable]:
        order = self.facts.order
        where = (
            f"{order.latitude:.6f}, {order.longitude:.6f}"
            if order.latitude is not None and order.longitude is not None
            else "Not located"
        )
        window = (
            f"{self.when(order.window_start)} \u2013 {self.when(order.window_end, date=False)}"
            if order.window_start and order.window_end
            else "Not set"
        )
        return [
            self.p("Order", "h2"),
            self.facts_table(
                [
                    ("Customer", order.customer_name),
                    ("Address", order.address),
                    ("Address coordinates", where),
                    ("Delivery window", window),
                    ("Status", order.status),
                    ("Hub", order.hub),
                ]
            ),
        ]

    def visit_section(self) -> list[Flowable]:
        visit = self.last_visit()
        flow: list[Flowable] = [self.p("The stop", "h2")]
        if visit is None:
            return [*flow, self.p("The order was never on a route.")]
        dwell = _duration(visit.dwell_seconds)
        flow.append(
            self.facts_table(
                [
                    ("Vehicle · driver", f"{visit.vehicle or '—'} · {visit.driver or '—'}"),
                    ("Route", f"#{visit.route_id} of {visit.route_date}, stop {visit.sequence}"),
                    ("Arrival", self.when(visit.arrival)),
                    ("Departure", self.when(visit.departure)),
                    ("Dwell", dwell),
                    ("Outcome", _outcome(visit)),
                ]
            )
        )
        return flow

    def map_section(self) -> list[Flowable]:
        trail = self.facts.trail
        caption = (
            f"{len(trail.points)} positions of {trail.vehicle} from {self.when(trail.start)} "
            f"to {self.when(trail.end, date=False)}. "
            if trail.points
            else "No positions recorded around the stop. "
        )
        caption += (
            "Left: around the stop (labelled); right: the whole trail (grey dot: its first "
            "position, black: its last). Blue: the trail; red pin: the address; "
            "green: where the proof was captured (dashed circle: its accuracy); amber: the "
            "positions nearest the arrival and departure."
        )
        drawing = trail_drawing(self.facts, CONTENT_WIDTH, 95 * mm)
        return [
            KeepTogether(
                [self.p("GPS trail around the stop", "h2"), drawing, self.p(caption, "small")]
            )
        ]

    def proof_section(self) -> list[Flowable]:
        flow: list[Flowable] = [self.p("Proof of delivery", "h2")]
        if not self.facts.proofs:
            return [*flow, self.p("No proof of delivery was captured.")]
        blocks: list[Flowable] = []
        for index, proof in enumerate(self.facts.proofs):
            # The section's heading stays with its first proof (no orphaned heading).
            head = flow if index == 0 else []
            block = [*head, *self.proof_images(proof), self.proof_table(proof), Spacer(1, 6)]
            blocks.append(KeepTogether(block))
        return blocks

    def proof_table(self, proof: ProofFacts) -> Table:
        stamp = (
            f"{proof.latitude:.6f}, {proof.longitude:.6f}"
            + (f" (±{proof.accuracy_m:.0f} m)" if proof.accuracy_m is not None else "")
            if proof.latitude is not None and proof.longitude is not None
            else "Not reported"
        )
        distance = (
            f"{proof.distance_from_address_m:.0f} m"
            if proof.distance_from_address_m is not None
            else "Unknown (no geo-stamp or no address coordinates)"
        )
        return self.facts_table(
            [
                ("Recipient", proof.recipient_name or "Not given"),
                ("Captured", f"{self.when(proof.captured_at)} by {proof.captured_by or '—'}"),
                ("Received by the server", self.when(proof.received_at)),
                ("Geo-stamp", stamp),
                ("Distance from the address", distance),
                ("Notes", proof.notes or "—"),
                ("Photo SHA-256", proof.photo_sha256 or "No photo"),
                ("Signature SHA-256", proof.signature_sha256 or "No signature"),
            ]
        )

    def proof_images(self, proof: ProofFacts) -> list[Flowable]:
        pictures: list[Any] = []
        for digest, box in (
            (proof.photo_sha256, (80 * mm, 60 * mm)),
            (proof.signature_sha256, (70 * mm, 30 * mm)),
        ):
            data = self.images.by_sha256.get(digest or "")
            if data is None:
                continue
            try:
                pictures.append(_fitted_image(data, *box))
            except Exception:
                pictures.append(self.p("(an image that could not be read)", "small"))
        if not pictures:
            return []
        row = Table([pictures], hAlign="LEFT")
        row.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
        return [row, Spacer(1, 4)]

    def attempts_section(self) -> list[Flowable]:
        rows = [["#", "Route", "Vehicle · driver", "Arrival", "Departure", "Dwell", "Outcome"]]
        for a in self.facts.attempts:
            rows.append(
                [
                    str(a.number),
                    f"#{a.route_id} {a.route_date}",
                    f"{a.vehicle or '—'} · {a.driver or '—'}",
                    self.when(a.arrival, short=True),
                    self.when(a.departure, date=False),
                    _duration(a.dwell_seconds),
                    _outcome(a),
                ]
            )
        widths = [7 * mm, 27 * mm, 34 * mm, 41 * mm, 23 * mm, 19 * mm]
        widths.append(CONTENT_WIDTH - sum(widths))
        if len(rows) == 1:
            return [self.p("Attempts", "h2"), self.p("No attempts: the order was never routed.")]
        return [self.p("Attempts", "h2"), self.table(rows, widths)]

    def events_section(self) -> list[Flowable]:
        rows = [["When", "Change", "Source · who", "Reason · note", "Where"]]
        for e in self.facts.events:
            where = (
                f"{e.latitude:.5f}, {e.longitude:.5f}"
                if e.latitude is not None and e.longitude is not None
                else "—"
            )
            change = f"{e.from_status} → {e.to_status}" if e.from_status else e.to_status
            detail = " · ".join(part for part in (e.failure_reason, e.note) if part) or "—"
            rows.append(
                [
                    self.when(e.at, short=True),
                    change,
                    f"{e.source} · {e.actor or '—'}",
                    detail,
                    where,
                ]
            )
        widths = [41 * mm, 36 * mm, 32 * mm, 42 * mm]
        widths.append(CONTENT_WIDTH - sum(widths))
        return [self.p("Every event", "h2"), self.table(rows, widths)]

    def last_visit(self) -> AttemptFacts | None:
        visited = [a for a in self.facts.attempts if a.arrival or a.departure]
        candidates = visited or self.facts.attempts
        return candidates[-1] if candidates else None

    # ---- the document
    def footer(self, canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(self.styles["small"].fontName, 7)
        canvas.setFillColor(MUTED)
        text = (
            f"Order {self.facts.order.reference} · {HASH_LABEL} {self.content_sha256} · "
            f"page {document.page}"
        )
        canvas.drawString(MARGIN, 9 * mm, text)
        canvas.restoreState()

    def render(self) -> bytes:
        buffer = io.BytesIO()
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=16 * mm,
            invariant=True,
            title=f"Dispute packet {self.facts.order.reference}",
            author=self.facts.organization,
            subject=f"{HASH_LABEL} {self.content_sha256}",
            creator="Doorstep",
        )
        story = [
            *self.header(),
            *self.order_section(),
            *self.visit_section(),
            *self.map_section(),
            *self.proof_section(),
            *self.attempts_section(),
            *self.events_section(),
        ]
        document.build(story, onFirstPage=self.footer, onLaterPages=self.footer)
        return buffer.getvalue()


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {rest:02d} s"


def _outcome(attempt: AttemptFacts) -> str:
    return (
        f"{attempt.outcome} ({attempt.failure_reason})"
        if attempt.failure_reason
        else attempt.outcome
    )


def _fitted_image(data: bytes, max_width: float, max_height: float) -> Image:
    width, height = ImageReader(io.BytesIO(data)).getSize()
    ratio = min(max_width / width, max_height / height, 1.0 if width > 400 else 4.0)
    return Image(io.BytesIO(data), width=width * ratio, height=height * ratio)


def packet_pdf_render(
    facts: PacketFacts, images: PacketImages, *, content_sha256: str, generated_at: dt.datetime
) -> bytes:
    return PacketWriter(facts, images, content_sha256, generated_at).render()
