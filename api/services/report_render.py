"""Render a progress report (`api.services.reports.Report`) as DOCX, HTML, Markdown, PDF, CSV or JSON.

One entry point: `render(report, fmt) -> (bytes, media_type, filename)`. Rendering is synchronous and
CPU-bound: async callers run it in a thread (`asyncio.to_thread(render, ...)`).
"""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.services.reports import (
    ACTIONS_COLUMN,
    PROVISION_COLUMN,
    ActivityEntry,
    ProvisionRow,
    Report,
    history_line,
    report_to_dict,
    stage_label,
    status_line,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class ReportFormat(StrEnum):
    DOCX = "docx"
    HTML = "html"
    MD = "md"
    PDF = "pdf"
    CSV = "csv"
    JSON = "json"


MEDIA_TYPES: dict[ReportFormat, str] = {
    ReportFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ReportFormat.HTML: "text/html; charset=utf-8",
    ReportFormat.MD: "text/markdown; charset=utf-8",
    ReportFormat.PDF: "application/pdf",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.JSON: "application/json",
}
FORMATS = tuple(fmt.value for fmt in ReportFormat)


def filename(report: Report, fmt: ReportFormat | str) -> str:
    return f"{report.filename_stem}.{ReportFormat(fmt).value}"


def render(report: Report, fmt: ReportFormat | str) -> tuple[bytes, str, str]:
    """The report in `fmt`: its bytes, media type and a download file name."""
    fmt = ReportFormat(fmt)
    content = _RENDERERS[fmt](report)
    return content, MEDIA_TYPES[fmt], filename(report, fmt)


# --- text helpers shared by the formats ---------------------------------------------------------


def activity_lines(entry: ActivityEntry) -> list[str]:
    """The 'Actions taken or to be taken' of one activity as plain lines, in reading order."""
    lines = [
        f"{entry.title} [{', '.join(entry.conventions)}]" if entry.conventions else entry.title,
        status_line(entry),
    ]
    lines += [f"Taken ({line.on_date.isoformat()}): {line.text}" for line in entry.taken]
    lines += [f"Planned ({line.on_date.isoformat()}): {line.text}" for line in entry.planned]
    if entry.history:
        lines.append("Stage history: " + "; ".join(history_line(change) for change in entry.history))
    return lines


# --- JSON, CSV, Markdown ------------------------------------------------------------------------


def render_json(report: Report) -> bytes:
    return json.dumps(report_to_dict(report), ensure_ascii=False, indent=2).encode()


CSV_COLUMNS = (
    "meeting",
    "as_of",
    "section",
    "subsection",
    "paragraph",
    "subparagraph",
    "element_code",
    "citation",
    "provision_text",
    "activity_id",
    "activity_title",
    "conventions",
    "stage",
    "stage_due_on",
    "overdue",
    "actions_taken",
    "actions_planned",
    "stage_history",
)


def render_csv(report: Report) -> bytes:
    """One row per activity × provision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    header = report.header
    for section, subsection, row in report.rows():
        for entry in row.activities:
            writer.writerow(
                [
                    header.meeting_code,
                    header.as_of.isoformat(),
                    section.heading,
                    subsection.heading or "",
                    row.paragraph,
                    row.subparagraph or "",
                    row.element_code,
                    row.citation,
                    row.text,
                    entry.id,
                    entry.title,
                    " ".join(entry.conventions),
                    entry.stage,
                    entry.stage_due_on.isoformat() if entry.stage_due_on else "",
                    "yes" if entry.overdue else "no",
                    "\n".join(f"{line.on_date.isoformat()}: {line.text}" for line in entry.taken),
                    "\n".join(f"{line.on_date.isoformat()}: {line.text}" for line in entry.planned),
                    "\n".join(history_line(change) for change in entry.history),
                ]
            )
    return buffer.getvalue().encode()


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def render_markdown(report: Report) -> bytes:
    h = report.header
    out = [
        f'<div align="right">{h.document_symbol}</div>',
        "",
        f"**{h.meeting_title}**  ",
        f"{h.venue}, {h.dates}",
        "",
        f"# {h.title}",
        "",
        f"Situation as of {h.as_of.isoformat()}. "
        f"{report.summary.get('activities', 0)} activities under "
        f"{report.summary.get('provisions', 0)} provisions; "
        f"{report.summary.get('overdue', 0)} overdue.",
        "",
        f"## Annex: {h.annex_title}",
        "",
    ]
    if not report.sections:
        out += ["No activity answers a provision of this meeting's decisions yet.", ""]
    for section in report.sections:
        out += [f"## {section.heading}", ""]
        for subsection in section.subsections:
            if subsection.heading:
                out += [f"### {subsection.heading}", ""]
            out += [f"| {PROVISION_COLUMN} | {ACTIONS_COLUMN} |", "| --- | --- |"]
            for row in subsection.provisions:
                right = "<br><br>".join(
                    "<br>".join(_md_cell(line) for line in activity_lines(entry)) for entry in row.activities
                )
                out.append(f"| {_md_cell(f'{row.label} {row.text}')} | {right} |")
            out.append("")
    return ("\n".join(out) + "\n").encode()


# --- HTML and PDF (the PDF's layout: api.services.report_pdf) -----------------------------------


@lru_cache
def _jinja() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["stage"] = stage_label
    environment.globals.update(
        status_line=status_line,
        history_line=history_line,
        PROVISION_COLUMN=PROVISION_COLUMN,
        ACTIONS_COLUMN=ACTIONS_COLUMN,
    )
    return environment


def render_html(report: Report) -> bytes:
    return _jinja().get_template("report.html").render(report=report, h=report.header).encode()


def render_pdf(report: Report) -> bytes:
    from api.services.report_pdf import render_pdf  # imports ReportLab: only when a PDF is asked for

    return render_pdf(report)


# --- DOCX ---------------------------------------------------------------------------------------


def _repeat_header_row(row: object) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    element = OxmlElement("w:tblHeader")
    element.set(qn("w:val"), "true")
    tr_pr.append(element)


# Cells are written as WordprocessingML directly: building ~10,000 paragraphs through python-docx's
# object API takes seconds for 1,000 activities, one parse per cell takes milliseconds.
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_XML_UNSAFE = {i: None for i in range(32) if i not in (9, 10, 13)}
Run = tuple[str, str]  # (text, flags): flags a combination of "b" bold, "i" italic, "s" small


def _xml_text(text: str) -> str:
    return xml_escape(text.translate(_XML_UNSAFE))


def _run_xml(text: str, flags: str = "") -> str:
    props = "".join(
        tag for flag, tag in (("b", "<w:b/>"), ("i", "<w:i/>"), ("s", '<w:sz w:val="16"/>')) if flag in flags
    )
    return (
        f"<w:r>{f'<w:rPr>{props}</w:rPr>' if props else ''}"
        f'<w:t xml:space="preserve">{_xml_text(text)}</w:t></w:r>'
    )


def _paragraph_xml(*runs: Run) -> str:
    return "<w:p>" + "".join(_run_xml(text, flags) for text, flags in runs) + "</w:p>"


def _fill_cell(cell: object, paragraphs: list[str]) -> None:
    """Replace the cell's empty paragraph with `paragraphs` (WordprocessingML `w:p` strings)."""
    from docx.oxml import parse_xml

    tc = cell._tc  # type: ignore[attr-defined]
    for empty in tc.findall(f"{{{W_NS}}}p"):
        tc.remove(empty)
    fragment = parse_xml(f'<w:body xmlns:w="{W_NS}">{"".join(paragraphs)}</w:body>')
    for child in list(fragment):
        tc.append(child)


def _provision_paragraphs(row: ProvisionRow) -> list[str]:
    words = row.text.split(" ", 1)
    # The annex italicises the operative verb ("Requests", "Also requests").
    if len(words) == 2 and words[0][:1].isupper():
        first = _paragraph_xml((f"{row.label} ", ""), (words[0], "i"), (" " + words[1], ""))
    else:
        first = _paragraph_xml((f"{row.label} {row.text}", ""))
    return [first, _paragraph_xml((row.citation, "s"))]


def _actions_paragraphs(row: ProvisionRow) -> list[str]:
    out: list[str] = []
    for entry in row.activities:
        conventions = f" [{', '.join(entry.conventions)}]" if entry.conventions else ""
        out.append(_paragraph_xml((entry.title, "b"), (conventions, "")))
        out.append(_paragraph_xml((status_line(entry), "ib" if entry.overdue else "i")))
        out.extend(_paragraph_xml((f"{line.text} ({line.on_date.isoformat()})", "")) for line in entry.taken)
        if entry.planned:
            out.append(
                _paragraph_xml(
                    ("Planned: ", "i"),
                    (" ".join(f"{line.text} ({line.on_date.isoformat()})" for line in entry.planned), ""),
                )
            )
        if entry.history:
            out.append(
                _paragraph_xml(
                    (
                        "Stage history: " + "; ".join(history_line(change) for change in entry.history),
                        "s",
                    )
                )
            )
    return out or [_paragraph_xml()]


def render_docx(report: Report) -> bytes:
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    h = report.header
    document = Document()
    core = document.core_properties
    core.title = f"{h.title}: {h.meeting_code}"
    core.subject = h.meeting_title
    core.identifier = h.document_symbol
    core.keywords = "synergies; joint activities; " + ", ".join(h.conventions)

    normal = document.styles["Normal"]
    normal.font.name = "Times New Roman"  # type: ignore[attr-defined]
    normal.font.size = Pt(10)  # type: ignore[attr-defined]

    section = document.sections[0]
    section.left_margin = section.right_margin = Cm(2)
    section.different_first_page_header_footer = True
    symbol = section.first_page_header.paragraphs[0]
    symbol.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    symbol.add_run(h.document_symbol).bold = True
    for text in ("Distr.: General", h.as_of.strftime("%d %B %Y").lstrip("0"), "English only"):
        line = section.first_page_header.add_paragraph(text)
        line.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    running = section.header.paragraphs[0]
    running.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    running.add_run(h.document_symbol)

    meeting = document.add_paragraph()
    meeting.add_run(h.meeting_title).bold = True
    document.add_paragraph(f"{h.venue}, {h.dates}")
    document.add_heading(h.title, level=0)
    summary = report.summary
    document.add_paragraph(
        f"Situation as of {h.as_of.strftime('%d %B %Y').lstrip('0')}: "
        f"{summary.get('activities', 0)} joint activities answering "
        f"{summary.get('provisions', 0)} provisions; {summary.get('overdue', 0)} past their stage "
        "due date."
    )
    document.add_heading("Annex", level=1)
    document.add_paragraph(h.annex_title).runs[0].italic = True
    if not report.sections:
        document.add_paragraph("No activity answers a provision of this meeting's decisions yet.")

    for part in report.sections:
        document.add_heading(part.heading, level=1)
        for subsection in part.subsections:
            if subsection.heading:
                document.add_heading(subsection.heading, level=2)
            table = document.add_table(rows=1, cols=2)
            table.style = "Table Grid"
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            head = table.rows[0]
            _repeat_header_row(head)
            for cell, text in zip(head.cells, (PROVISION_COLUMN, ACTIONS_COLUMN), strict=True):
                cell.paragraphs[0].add_run(text).italic = True
            for row in subsection.provisions:
                left, right = table.add_row().cells
                _fill_cell(left, _provision_paragraphs(row))
                _fill_cell(right, _actions_paragraphs(row))

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


_RENDERERS = {
    ReportFormat.DOCX: render_docx,
    ReportFormat.HTML: render_html,
    ReportFormat.MD: render_markdown,
    ReportFormat.PDF: render_pdf,
    ReportFormat.CSV: render_csv,
    ReportFormat.JSON: render_json,
}

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "ReportFormat",
    "activity_lines",
    "filename",
    "render",
    "render_csv",
    "render_docx",
    "render_html",
    "render_json",
    "render_markdown",
    "render_pdf",
]
