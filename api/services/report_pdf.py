"""The progress report as a PDF, laid out with ReportLab's platypus.

ReportLab rather than HTML through WeasyPrint: the annex of a COP with 1,000 activities is a
300-page table, and WeasyPrint spent 35-80 s in table layout and Pango line breaking for it (66 s
even without a table); platypus lays it out in 2-3 s. The content is the DOCX's: the symbol block,
the meeting, the annex with one two-column table per subsection (its header row repeated on every
page), each activity with its stage, actions and stage history; page numbers in the footer.

Text is set in DejaVu Serif (Debian's fonts-dejavu-core and fonts-dejavu-extra, found on
ReportLab's font search path): the history lines' arrows and any language's names need more glyphs
than the PDF standard fonts have.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from api.services.reports import (
    ACTIONS_COLUMN,
    PROVISION_COLUMN,
    ActivityEntry,
    ProvisionRow,
    Report,
    history_line,
    status_line,
)

FONT = "DejaVuSerif"
MARGIN = 2 * cm
COLUMNS = (0.35 * (A4[0] - 2 * MARGIN), 0.65 * (A4[0] - 2 * MARGIN))
CELL_WIDTH = COLUMNS[1] - 12  # less the table's default padding, 6 pt either side
GREY = colors.HexColor("#444444")
OVERDUE = colors.HexColor("#aa0000")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters, but tab, newline, return


@dataclass(frozen=True)
class _Font:
    name: str
    size: float
    leading: float
    color: colors.Color = colors.black


class _Lines(Flowable):
    """Blocks of plain text, one font each, every block starting on a new line: what a table cell
    of the annex holds. Broken on spaces and drawn with one text object, it costs a fraction of a
    `Paragraph` (markup parsing, fragments), and the annex has thousands of them."""

    def __init__(self, blocks: list[tuple[_Font, str]]) -> None:
        super().__init__()
        self.blocks = blocks
        self._broken: list[tuple[_Font, list[str]]] = []
        self._broken_width: float | None = None

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if availWidth != self._broken_width:  # a table wraps a cell several times at one width
            self._broken_width = availWidth
            self._broken = [(font, _break_lines(text, font, availWidth)) for font, text in self.blocks]
        self.width = availWidth
        self.height = sum(font.leading * len(lines) for font, lines in self._broken)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[_Lines]:
        """The lines that fit in `availHeight`, then the rest (none if not a single line fits)."""
        self.wrap(availWidth, availHeight)
        head: list[tuple[_Font, str]] = []
        tail: list[tuple[_Font, str]] = []
        used = 0.0
        for font, lines in self._broken:
            fit = 0 if tail else max(0, min(len(lines), int((availHeight - used) // font.leading)))
            used += fit * font.leading
            if fit:
                head.append((font, "\n".join(lines[:fit])))
            if fit < len(lines):
                tail.append((font, "\n".join(lines[fit:])))
        return [_Lines(head), _Lines(tail)] if head and tail else []

    def draw(self) -> None:
        text = self.canv.beginText()
        top = self.height
        current: _Font | None = None
        for font, lines in self._broken:
            if current is None or font.color != current.color:
                text.setFillColor(font.color)
            if font != current:
                text.setFont(font.name, font.size, font.leading)
                current = font
            text.setTextOrigin(0, top - font.size)
            text.textLines(lines, trim=0)
            top -= font.leading * len(lines)
        self.canv.drawText(text)


@lru_cache(maxsize=1 << 16)
def _word_width(font_name: str, word: str) -> float:
    """A word's width at size 1: dates, stage names and the like recur thousands of times."""
    return pdfmetrics.stringWidth(word, font_name, 1)


def _fitting_words(words: list[str], font_name: str, limit: float) -> Iterator[str]:
    """The words, any wider than a line (a URL, a long code) cut into pieces that fit."""
    for word in words:
        width = _word_width(font_name, word)
        while width > limit and len(word) > 1:
            cut = max(1, int(len(word) * limit / width))
            while cut > 1 and pdfmetrics.stringWidth(word[:cut], font_name, 1) > limit:
                cut -= 1
            yield word[:cut]
            word = word[cut:]
            width = pdfmetrics.stringWidth(word, font_name, 1)
        yield word


def _break_lines(text: str, font: _Font, width: float) -> list[str]:
    """`text` broken on spaces into lines of at most `width`, each newline starting a new line."""
    limit = width / font.size
    space = _word_width(font.name, " ")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line: list[str] = []
        used = -space
        for word in _fitting_words(paragraph.split(), font.name, limit):
            measured = _word_width(font.name, word)
            if line and used + space + measured > limit:
                lines.append(" ".join(line))
                line, used = [], -space
            line.append(word)
            used += space + measured
        lines.append(" ".join(line))
    return lines


@lru_cache
def _fonts() -> dict[str, _Font]:
    """The type faces, once DejaVu Serif is registered (parsing its TrueType files takes ~0.2 s)."""
    for suffix in ("", "-Bold", "-Italic", "-BoldItalic"):
        pdfmetrics.registerFont(TTFont(f"{FONT}{suffix}", f"{FONT}{suffix}.ttf"))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=f"{FONT}-Bold", italic=f"{FONT}-Italic", boldItalic=f"{FONT}-BoldItalic"
    )
    return {
        "text": _Font(FONT, 9, 11.5),
        "bold": _Font(f"{FONT}-Bold", 9, 11.5),
        "italic": _Font(f"{FONT}-Italic", 9, 11.5),
        "overdue": _Font(f"{FONT}-BoldItalic", 9, 11.5, OVERDUE),
        "small": _Font(FONT, 7, 9, GREY),
    }


@lru_cache
def _styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles for the few pieces with mixed faces: the title page, headings, provisions."""
    text = _fonts()["text"]
    body = ParagraphStyle("body", fontName=FONT, fontSize=text.size, leading=text.leading, spaceAfter=3)
    bold = f"{FONT}-Bold"
    return {
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, spaceAfter=0),
        "head": ParagraphStyle("head", parent=body, fontName=f"{FONT}-Italic", spaceAfter=0),
        "symbol": ParagraphStyle("symbol", parent=body, alignment=TA_RIGHT, spaceAfter=0),
        "symbol_big": ParagraphStyle("symbol_big", parent=body, alignment=TA_RIGHT, fontSize=12, leading=15),
        "title": ParagraphStyle(
            "title", parent=body, fontName=bold, fontSize=16, leading=20, spaceBefore=12, spaceAfter=8
        ),
        "h1": ParagraphStyle(
            "h1", parent=body, fontName=bold, fontSize=12, leading=15, spaceBefore=12, spaceAfter=5
        ),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=bold, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=4
        ),
    }


def _markup(value: str) -> str:
    """Plain text as paragraph markup: escaped, line breaks kept."""
    return escape(_CONTROL.sub("", value)).replace("\n", "<br/>")


def _provision_cell(row: ProvisionRow) -> list[Flowable]:
    words = row.text.split(" ", 1)
    # The annex italicises the operative verb ("Requests", "Also requests"), as in the DOCX.
    if len(words) == 2 and words[0][:1].isupper():
        text = f"{row.label} <i>{_markup(words[0])}</i> {_markup(words[1])}"
    else:
        text = f"{row.label} {_markup(row.text)}"
    return [Paragraph(text, _styles()["cell"]), _Lines([(_fonts()["small"], row.citation)])]


def _activity_cell(entry: ActivityEntry) -> _Lines:
    fonts = _fonts()
    conventions = f" [{', '.join(entry.conventions)}]" if entry.conventions else ""
    blocks = [
        (fonts["bold"], entry.title + conventions),
        (fonts["overdue" if entry.overdue else "italic"], status_line(entry)),
    ]
    blocks += [(fonts["text"], f"{line.text} ({line.on_date.isoformat()})") for line in entry.taken]
    if entry.planned:
        planned = " ".join(f"{line.text} ({line.on_date.isoformat()})" for line in entry.planned)
        blocks.append((fonts["italic"], f"Planned: {planned}"))
    if entry.history:
        history = "; ".join(history_line(change) for change in entry.history)
        blocks.append((fonts["small"], f"Stage history: {history}"))
    return _Lines([(font, _CONTROL.sub("", text)) for font, text in blocks])


def _annex_table(provisions: tuple[ProvisionRow, ...]) -> Table:
    """Header row, then one row per activity: short rows paginate cheaply, and a provision's later
    rows carry only its label, grey, so a page that starts inside a provision still says which.
    An activity taller than 3/4 of a page (a long stage history) continues on further rows: a row
    must fit on a page, and ReportLab's own splitting inside rows mislays them."""
    head = _styles()["head"]
    data: list[list[Any]] = [[Paragraph(PROVISION_COLUMN, head), Paragraph(ACTIONS_COLUMN, head)]]
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOX", (0, 0), (-1, -1), 0.5, GREY),
        ("LINEAFTER", (0, 0), (0, -1), 0.5, GREY),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, GREY),
        ("LINEABOVE", (1, 1), (1, -1), 0.25, colors.lightgrey),
        ("LINEBELOW", (0, "splitlast"), (-1, "splitlast"), 0.5, GREY),  # closes a page's part
    ]
    for row in provisions:
        first = len(data)
        commands.append(("LINEABOVE", (0, first), (-1, first), 0.5, GREY))
        for entry in row.activities:
            for piece in _pieces(_activity_cell(entry)):
                data.append([_provision_cell(row) if len(data) == first else _label_cell(row), piece])
    return Table(data, colWidths=COLUMNS, repeatRows=1, style=TableStyle(commands))


def _label_cell(row: ProvisionRow) -> _Lines:
    return _Lines([(_fonts()["small"], row.label)])


def _pieces(cell: _Lines) -> list[_Lines]:
    """The cell cut into parts no taller than three quarters of the page's text height."""
    limit = (A4[1] - 2 * MARGIN) * 3 / 4
    pieces = []
    while cell.wrap(CELL_WIDTH, limit)[1] > limit:
        head, cell = cell.split(CELL_WIDTH, limit)
        pieces.append(head)
    return [*pieces, cell]


def _story(report: Report) -> list[Flowable]:
    styles = _styles()
    h = report.header
    day = h.as_of.strftime("%d %B %Y").lstrip("0")
    summary = report.summary
    meeting = f"<b>{_markup(h.meeting_title)}</b><br/>{_markup(f'{h.venue}, {h.dates}')}"
    story: list[Flowable] = [
        Paragraph(f"<b>{_markup(h.document_symbol)}</b>", styles["symbol_big"]),
        *(Paragraph(text, styles["symbol"]) for text in ("Distr.: General", day, "English only")),
        Spacer(0, 18),
        Paragraph(meeting, styles["body"]),
        Paragraph(_markup(h.title), styles["title"]),
        Paragraph(
            f"Situation as of {day}: {summary.get('activities', 0)} joint activities answering "
            f"{summary.get('provisions', 0)} provisions; {summary.get('overdue', 0)} past their stage "
            "due date.",
            styles["body"],
        ),
        PageBreak(),  # the annex starts on a page of its own, its first rows are long
        Paragraph("Annex", styles["h1"]),
        Paragraph(f"<i>{_markup(h.annex_title)}</i>", styles["body"]),
    ]
    if not report.sections:
        nothing = "No activity answers a provision of this meeting's decisions yet."
        story.append(Paragraph(nothing, styles["body"]))
    # A heading needs room for a few rows under it (CondPageBreak), or it moves to the next page.
    for section in report.sections:
        story += [CondPageBreak(5 * cm), Paragraph(_markup(section.heading), styles["h1"])]
        for subsection in section.subsections:
            if subsection.heading:
                story += [CondPageBreak(5 * cm), Paragraph(_markup(subsection.heading), styles["h2"])]
            story += [_annex_table(subsection.provisions), Spacer(0, 8)]
    return story


def render_pdf(report: Report) -> bytes:
    h = report.header

    def first_page(canvas: Canvas, document: SimpleDocTemplate) -> None:
        _page_number(canvas)

    def later_pages(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.setFont(FONT, 8)
        canvas.drawRightString(A4[0] - MARGIN, A4[1] - MARGIN + 12, h.document_symbol)
        _page_number(canvas)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"{h.title}: {h.meeting_code}",
        subject=h.meeting_title,
        keywords="synergies; joint activities; " + ", ".join(h.conventions),
        creator="Synergies Tracker",
    )
    document.build(_story(report), onFirstPage=first_page, onLaterPages=later_pages)
    return buffer.getvalue()


def _page_number(canvas: Canvas) -> None:
    canvas.setFont(FONT, 8)
    canvas.drawCentredString(A4[0] / 2, MARGIN / 2, f"Page {canvas.getPageNumber()}")
