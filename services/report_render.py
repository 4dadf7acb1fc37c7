"""Render a progress report (`services.report_model.Report`) as DOCX, HTML, Markdown, PDF, CSV or JSON.

One entry point: `render(report, fmt) -> (bytes, media_type, filename)`. Rendering is synchronous and
CPU-bound: async callers run it in a thread with a time budget (`render_within`).

Every format lays out the same parts in the same order: the front matter of a UN document
(mastheads, symbol block, meeting, agenda item, title, "Note by …", numbered introduction, "Possible
action", the agenda footnote), then the annex. The DOCX is filled into an editable Word template
(`services/templates/report.docx`, or `settings.report_docx_template`) with docxtpl; the PDF is laid out
with ReportLab (`services.report_pdf`) to the same page, type and structure.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.errors import DomainError
from services.report_model import (
    ACTIONS_COLUMN,
    NO_ACTION,
    ProvisionRow,
    Report,
    action_paragraphs,
    dated_action,
    history_line,
    report_to_dict,
    status_line,
)
from services.report_text import Text
from services.spreadsheet import neutralise_cell

TEMPLATES = Path(__file__).resolve().parent / "templates"
DOCX_TEMPLATE = TEMPLATES / "report.docx"


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


class RenderTimeout(DomainError):
    status, code = 503, "report_render_timeout"


def filename(report: Report, fmt: ReportFormat | str) -> str:
    return f"{report.filename_stem}.{ReportFormat(fmt).value}"


def render(report: Report, fmt: ReportFormat | str) -> tuple[bytes, str, str]:
    """The report in `fmt`: its bytes, media type and a download file name."""
    fmt = ReportFormat(fmt)
    content = _RENDERERS[fmt](report)
    return content, MEDIA_TYPES[fmt], filename(report, fmt)


async def render_within(report: Report, fmt: ReportFormat | str, seconds: float) -> tuple[bytes, str, str]:
    """`render` in a worker thread, refused with a 503 problem when it takes longer than `seconds`
    (the thread finishes in the background; the request does not wait for it)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(render, report, fmt), timeout=seconds)
    except TimeoutError:
        raise RenderTimeout(
            f"rendering the {ReportFormat(fmt).value} report took longer than {seconds:g} s; "
            "try a narrower report or another format"
        ) from None


# --- what every format shows, in order ----------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """The fixed text of the document in its language."""

    distribution: str
    original: str
    introduction: str
    possible_action: str
    annex: str
    provision_column: str
    actions_column: str
    no_action: str
    to_be_taken: str


def labels(report: Report) -> Labels:
    text = Text(report.header.lang)
    return Labels(
        distribution=text("Distr.: General"),
        original=text("Original: English"),
        introduction=text("Introduction"),
        possible_action=text("Possible action"),
        annex=text("Annex"),
        provision_column=report.header.provision_column,
        actions_column=text(ACTIONS_COLUMN),
        no_action=text(NO_ACTION),
        to_be_taken=text("To be taken:"),
    )


def numbered_paragraphs(report: Report) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The introduction's and the possible action's paragraphs with their running numbers."""
    h = report.header
    introduction = list(enumerate(h.introduction, start=1))
    possible = list(enumerate(h.possible_action, start=len(introduction) + 1))
    return introduction, possible


def operative_verb(row: ProvisionRow) -> tuple[str, str, str]:
    """(label, verb, rest): the annex italicises the operative verb ("Requests", "Also requests")."""
    match = re.match(r"((?:Also |Further )?[A-Z][a-z]+)(\s.*)", row.text, re.DOTALL)
    label = f"{row.label} " if row.label else ""
    if match:
        return label, match.group(1), match.group(2)
    return label, "", row.text


@dataclass(frozen=True)
class Block:
    """One paragraph of the actions column: text, and how it is set."""

    text: str
    style: str = ""  # "" plain, "i" italic, "b" bold, "ib" bold italic, "s" small


def action_blocks(report: Report, row: ProvisionRow, words: Labels) -> list[Block]:
    """The 'Actions taken or to be taken' cell of one provision."""
    if report.internal:
        blocks: list[Block] = []
        for entry in row.activities:
            conventions = f" [{', '.join(entry.conventions)}]" if entry.conventions else ""
            blocks.append(Block(entry.title + conventions, "b"))
            blocks.append(Block(status_line(entry), "ib" if entry.overdue else "i"))
            blocks += [Block(dated_action(line)) for line in entry.taken]
            if entry.planned:
                to_come = " ".join(dated_action(line) for line in entry.planned)
                blocks.append(Block(f"Planned: {to_come}", "i"))
            if entry.history:
                history = "; ".join(history_line(change) for change in entry.history)
                blocks.append(Block(f"Stage history: {history}", "s"))
        return blocks or [Block(words.no_action, "i")]
    taken, planned = action_paragraphs(row)
    blocks = [Block(text) for text in taken]
    if planned:
        blocks.append(Block(words.to_be_taken, "i"))
        blocks += [Block(text) for text in planned]
    return blocks or [Block(words.no_action, "i")]


@dataclass(frozen=True)
class AnnexRow:
    """A row of the annex table: a section or subsection heading spanning both columns, or a
    provision with its actions."""

    heading: str | None = None
    level: int = 0
    provision: ProvisionRow | None = None


def annex_rows(report: Report) -> Iterator[AnnexRow]:
    for section in report.sections:
        yield AnnexRow(heading=section.heading, level=1)
        for subsection in section.subsections:
            if subsection.heading:
                yield AnnexRow(heading=subsection.heading, level=2)
            for row in subsection.provisions:
                yield AnnexRow(provision=row)


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
    "actions_taken",
    "actions_to_be_taken",
)
INTERNAL_CSV_COLUMNS = (*CSV_COLUMNS, "stage", "stage_due_on", "overdue", "stage_history")


def render_csv(report: Report) -> bytes:
    """One row per activity × provision (one row with no activity for a provision nobody answers);
    every cell neutralised against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(INTERNAL_CSV_COLUMNS if report.internal else CSV_COLUMNS)
    header = report.header
    for section, subsection, row in report.rows():
        for entry in row.activities or (None,):
            cells: list[object] = [
                header.meeting_code,
                header.as_of.isoformat(),
                section.heading,
                subsection.heading or "",
                row.paragraph,
                row.subparagraph or "",
                row.element_code,
                row.citation,
                row.text,
                entry.id if entry else "",
                entry.title if entry else "",
                " ".join(entry.conventions) if entry else "",
                "\n".join(f"{line.on_date.isoformat()}: {line.text}" for line in entry.taken)
                if entry
                else "",
                "\n".join(f"{line.on_date.isoformat()}: {line.text}" for line in entry.planned)
                if entry
                else "",
            ]
            if report.internal:
                cells += [
                    entry.stage if entry else "",
                    entry.stage_due_on.isoformat() if entry and entry.stage_due_on else "",
                    ("yes" if entry.overdue else "no") if entry else "",
                    "\n".join(history_line(change) for change in entry.history) if entry else "",
                ]
            writer.writerow([neutralise_cell(cell) for cell in cells])
    return buffer.getvalue().encode()


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def _md(text: str) -> str:
    """Entered text as inert Markdown: raw HTML escaped, emphasis, links and table pipes disarmed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text.replace("\r", ""), quote=False))


def _md_cell(text: str) -> str:
    return _md(text).replace("\n", "<br>")


def _md_block(block: Block) -> str:
    text = _md_cell(block.text)
    if "b" in block.style:
        text = f"**{text}**"
    if "i" in block.style:
        text = f"*{text}*"
    return text


def render_markdown(report: Report) -> bytes:
    h = report.header
    words = labels(report)
    out: list[str] = []
    out += [f"**{_md(name)}**  " for name in h.mastheads]
    out += [""]
    out += [f"{_md(symbol)}  " for symbol in h.symbols]
    out += [f"{_md(words.distribution)}  ", f"{_md(h.date_line)}  ", _md(words.original), ""]
    for meeting in h.meetings:
        lines = [f"**{_md(meeting.title)}**", _md(meeting.place_and_dates)]
        if meeting.agenda_item:
            lines.append(_md(meeting.agenda_item))
        if meeting.agenda_item_title:
            lines.append(f"**{_md(meeting.agenda_item_title)}**")
        out += ["  \n".join(lines), ""]
    out += [f"# {_md(h.title)}", "", f"## {_md(h.note_by)}", "", f"### {_md(words.introduction)}", ""]
    introduction, possible = numbered_paragraphs(report)
    out += [f"{number}. {_md(text)}\n" for number, text in introduction]
    if possible:
        out += [f"### {_md(words.possible_action)}", ""]
        out += [f"{number}. {_md(text)}\n" for number, text in possible]
    out += [_md(meeting.footnote) + "\n" for meeting in h.meetings if meeting.footnote]
    out += [f"## {_md(words.annex)}", "", f"**{_md(h.annex_title)}**", ""]
    for section in report.sections:
        out += [f"### {_md(section.heading)}", ""]
        for subsection in section.subsections:
            if subsection.heading:
                out += [f"#### {_md(subsection.heading)}", ""]
            out += [f"| *{_md(words.provision_column)}* | *{_md(words.actions_column)}* |", "| --- | --- |"]
            for row in subsection.provisions:
                label, verb, rest = operative_verb(row)
                left = f"{_md(label)}*{_md(verb)}*{_md_cell(rest)}" if verb else _md_cell(label + rest)
                right = "<br><br>".join(_md_block(block) for block in action_blocks(report, row, words))
                out.append(f"| {left} | {right} |")
            out.append("")
    return ("\n".join(out).rstrip("\n") + "\n").encode()


# --- HTML and PDF (the PDF's layout: services.report_pdf) -----------------------------------


@lru_cache
def _jinja() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        action_blocks=action_blocks, operative_verb=operative_verb, numbered_paragraphs=numbered_paragraphs
    )
    return environment


def render_html(report: Report) -> bytes:
    template = _jinja().get_template("report.html")
    return template.render(report=report, h=report.header, words=labels(report)).encode()


def render_pdf(report: Report) -> bytes:
    from services.report_pdf import render_pdf  # imports ReportLab: only when a PDF is asked for

    return render_pdf(report)


# --- DOCX ---------------------------------------------------------------------------------------


def docx_template_path() -> Path:
    """The Word template: `settings.report_docx_template` when set, else the one shipped."""
    from core.settings import get_settings

    return get_settings().report_docx_template or DOCX_TEMPLATE


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 forbids


def _clean(text: str) -> str:
    return _XML_UNSAFE.sub("", text)


def render_docx(report: Report) -> bytes:
    from docxtpl import DocxTemplate, RichText, RichTextParagraph

    h = report.header
    words = labels(report)

    def paragraphs(items: list[tuple[RichText | str, str | None]]) -> RichTextParagraph:
        rich = RichTextParagraph()
        for text, style in items:
            rich.add(text if isinstance(text, RichText) else RichText(_clean(text)), parastyle=style)
        return rich

    def styled(block: Block) -> RichText:
        return RichText(
            _clean(block.text),
            bold="b" in block.style,
            italic="i" in block.style,
            size=16 if "s" in block.style else None,
        )

    def provision_cell(row: ProvisionRow) -> RichTextParagraph:
        label, verb, rest = operative_verb(row)
        first = RichText(_clean(label))
        if verb:
            first.add(_clean(verb), italic=True)
        first.add(_clean(rest))
        items: list[tuple[RichText | str, str | None]] = [(first, "UNCell")]
        if report.internal:
            items.append((RichText(_clean(row.citation), size=16), "UNCell"))
        return paragraphs(items)

    annex = []
    for item in annex_rows(report):
        if item.heading is not None:
            annex.append({"heading": paragraphs([(RichText(_clean(item.heading), bold=True), "UNCell")])})
        elif item.provision is not None:
            blocks = action_blocks(report, item.provision, words)
            annex.append(
                {
                    "heading": None,
                    "left": provision_cell(item.provision),
                    "right": paragraphs([(styled(block), "UNCell") for block in blocks]),
                }
            )
    introduction, possible = numbered_paragraphs(report)
    meeting_lines: list[tuple[RichText | str, str | None]] = []
    for meeting in h.meetings:
        meeting_lines.append((RichText(_clean(meeting.title), bold=True), "UNMeeting"))
        meeting_lines.append((RichText(_clean(meeting.place_and_dates), bold=True), "UNMeeting"))
        if meeting.agenda_item:
            meeting_lines.append((RichText(_clean(meeting.agenda_item)), "UNMeeting"))
        if meeting.agenda_item_title:
            meeting_lines.append((RichText(_clean(meeting.agenda_item_title), bold=True), "UNMeeting"))
    footnotes = [meeting.footnote for meeting in h.meetings if meeting.footnote]
    context = {
        "mastheads": paragraphs([(RichText(_clean(name), bold=True), "UNMasthead") for name in h.mastheads]),
        "symbol_block": paragraphs(
            [(RichText(_clean(symbol), bold=True, size=28), "UNSymbol") for symbol in h.symbols]
            + [(RichText(_clean(text)), "UNDistribution") for text in (words.distribution, h.date_line, "")]
            + [(RichText(_clean(words.original)), "UNDistribution")]
        ),
        "meeting": paragraphs(meeting_lines),
        "title": _clean(h.title),
        "note_by": _clean(h.note_by),
        "words": words,
        "introduction": paragraphs([(f"{n}.\t{text}", "UNParagraph") for n, text in introduction]),
        "possible_action": paragraphs([(f"{n}.\t{text}", "UNParagraph") for n, text in possible])
        if possible
        else None,
        "footnotes": paragraphs([(text, "UNFootnote") for text in footnotes] or [("", "UNFootnote")]),
        "annex_title": _clean(h.annex_title),
        "annex": annex,
        "symbol": _clean(h.document_symbol),
    }
    template = DocxTemplate(str(docx_template_path()))
    template.render(context, autoescape=True)
    core = template.docx.core_properties
    core.title = f"{h.title}: {h.document_symbol}"
    core.author = h.secretariats
    core.subject = h.meeting_title
    core.identifier = h.document_symbol
    core.language = h.lang
    core.keywords = "synergies; joint activities; " + ", ".join(h.conventions)
    core.comments = f"The record as of {h.as_of.isoformat()} ({h.variant})"
    core.last_modified_by = h.secretariats
    core.created = core.modified = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    core.revision = 1
    buffer = io.BytesIO()
    template.save(buffer)
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
    "AnnexRow",
    "Block",
    "Labels",
    "RenderTimeout",
    "ReportFormat",
    "action_blocks",
    "annex_rows",
    "filename",
    "labels",
    "numbered_paragraphs",
    "operative_verb",
    "render",
    "render_csv",
    "render_docx",
    "render_html",
    "render_json",
    "render_markdown",
    "render_pdf",
    "render_within",
]
