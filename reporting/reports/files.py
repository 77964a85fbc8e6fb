"""A report as a file: CSV, XLSX (openpyxl) and PDF with a chart (reportlab). Pure: a table in,
bytes out.

Text typed by people (plates, names, alert titles) can start like a formula. CSV cells get the
leading apostrophe of `reporting.exports.spreadsheet_safe`; XLSX cells are stored as strings
with Excel's quote prefix (the same protection, without an apostrophe shown in the cell).
Numbers stay numbers; times are the organization's local times, the zone named in the file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Callable

from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..exports import formula_like, spreadsheet_safe
from .definitions import Column, ColumnKind, ReportTable, Value

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
PDF_MAX_ROWS = 2000  # a PDF is for reading; the CSV and XLSX hold every row
BLUE = colors.HexColor("#1e7ad0")


def display_value(column: Column, value: Value, zone: zoneinfo.ZoneInfo) -> str:
    """How a cell reads on the page and in the PDF."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if column.kind == ColumnKind.DECIMAL and isinstance(value, int | float):
        return f"{value:,.{column.decimals}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _csv_value(value: Value, zone: zoneinfo.ZoneInfo) -> object:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return value


def report_csv(table: ReportTable) -> bytes:
    zone = zoneinfo.ZoneInfo(table.request.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.label for column in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(value, zone) for value in row])
    # A BOM so that spreadsheet programs read the UTF-8 (names with accents) as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_formats(column: Column) -> str | None:
    if column.kind == ColumnKind.DATETIME:
        return "yyyy-mm-dd hh:mm"
    if column.kind == ColumnKind.DATE:
        return "yyyy-mm-dd"
    if column.kind == ColumnKind.DECIMAL:
        return "#,##0." + "0" * column.decimals if column.decimals else "#,##0"
    return None


def report_xlsx(table: ReportTable) -> bytes:
    zone = zoneinfo.ZoneInfo(table.request.timezone)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.kind.key[:31]
    sheet.append([column.label for column in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    formats = [_xlsx_formats(column) for column in table.columns]
    for row_number, row in enumerate(table.rows, start=2):
        for column_number, value in enumerate(row, start=1):
            cell = sheet.cell(row=row_number, column=column_number)
            if isinstance(value, dt.datetime):
                # Excel has no time zones: the local wall time, the zone named on "About".
                cell.value = value.astimezone(zone).replace(tzinfo=None)
            elif isinstance(value, str):
                cell.value = value
                cell.data_type = "s"  # never a formula, whatever it starts with
                cell.quotePrefix = formula_like(value)
            else:
                cell.value = value
            if formats[column_number - 1]:
                cell.number_format = formats[column_number - 1]
    sheet.freeze_panes = "A2"
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(
            12, len(column.label) + 2
        )
    about = workbook.create_sheet("About")
    for label, text in _about(table):
        about.append([label, text])
        about.cell(row=about.max_row, column=2).data_type = "s"
        about.cell(row=about.max_row, column=2).quotePrefix = formula_like(text)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _about(table: ReportTable) -> list[tuple[str, str]]:
    return [
        ("Report", table.title),
        ("Period", table.period_label()),
        ("Times in", table.request.timezone),
        ("Rows", str(len(table.rows))),
    ]


def _chart(table: ReportTable, width: float) -> Drawing | None:
    series = table.chart_series()
    chart_spec = table.kind.chart
    if not series or chart_spec is None:
        return None
    bar_height = 14
    height = 40 + bar_height * len(series)
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = 150, 10
    chart.width, chart.height = width - 190, bar_height * len(series)
    ordered = list(reversed(series))  # the largest bar on top
    chart.data = [[value for _, value in ordered]]
    chart.categoryAxis.categoryNames = [label[:28] for label, _ in ordered]
    chart.categoryAxis.labels.fontName = "Helvetica"
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontSize = 8
    chart.bars[0].fillColor = BLUE
    chart.bars[0].strokeColor = None
    drawing.add(chart)
    drawing.add(String(0, height - 14, chart_spec.title, fontName="Helvetica-Bold", fontSize=10))
    return drawing


def report_pdf(table: ReportTable) -> bytes:
    zone = zoneinfo.ZoneInfo(table.request.timezone)
    buffer = io.BytesIO()
    page = landscape(A4)
    document = SimpleDocTemplate(
        buffer, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm,
        topMargin=12 * mm, bottomMargin=12 * mm, title=table.title, author="Doorstep",
    )  # fmt: skip
    styles = getSampleStyleSheet()
    # Paragraphs read markup: only our own fixed words go into them, never a cell's text.
    story: list[object] = [
        Paragraph(f"{table.title} report", styles["Title"]),
        Paragraph(
            f"Period {table.period_label()} · times in {table.request.timezone} · "
            f"{len(table.rows):,} rows",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]
    chart = _chart(table, page[0] - 24 * mm)
    if chart is not None:
        story += [chart, Spacer(1, 6 * mm)]
    shown = table.rows[:PDF_MAX_ROWS]
    data = [[column.label for column in table.columns]] + [
        [
            display_value(column, value, zone)
            for column, value in zip(table.columns, row, strict=True)
        ]
        for row in shown
    ]
    if shown:
        grid = Table(data, repeatRows=1)
        grid.setStyle(_table_style())
        story.append(grid)
    else:
        story.append(Paragraph("No rows in this period.", styles["Normal"]))
    if len(table.rows) > PDF_MAX_ROWS:
        story.append(
            Paragraph(
                f"The first {PDF_MAX_ROWS:,} rows; the CSV and XLSX files hold all of them.",
                styles["Italic"],
            )
        )
    document.build(story)
    return buffer.getvalue()


def _table_style() -> TableStyle:
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
            ("FONTNAME", (0, 1), (-1, -1), "Helvetica"),
            ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f8fafc")]),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#94a3b8")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )


RENDERERS: dict[str, Callable[[ReportTable], bytes]] = {
    "csv": report_csv,
    "xlsx": report_xlsx,
    "pdf": report_pdf,
}
