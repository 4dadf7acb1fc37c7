"""The progress report as a PDF, laid out with ReportLab's platypus.

ReportLab rather than HTML through WeasyPrint: the annex of a COP with 1,000 activities is a
300-page table, and WeasyPrint spent 35-80 s in table layout and Pango line breaking for it (66 s
even without a table); platypus lays it out in 2-3 s. The page and content are the DOCX template's:
A4, 2 cm margins, the front matter (mastheads beside the symbol block, meeting, agenda item, title,
"Note by …", numbered paragraphs, the agenda footnote at the foot of the first page), the annex as
one two-column table whose header row repeats on every page with section and subsection rows
spanning both columns; the symbol in the running header and page numbers from page 2.

Text is set in Liberation Serif (Debian's fonts-liberation, metric-compatible with Times New Roman,
the UN documents' typeface and the DOCX template's), found on ReportLab's font search path.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from services.report_model import ProvisionRow, Report
from services.report_render import (
    Block,
    Labels,
    action_blocks,
    annex_rows,
    labels,
    numbered_paragraphs,
    operative_verb,
)

FONT = "LiberationSerif"
FONT_FILES = "/usr/share/fonts/truetype/liberation"
MARGIN = 2 * cm
COLUMNS = (0.4 * (A4[0] - 2 * MARGIN), 0.6 * (A4[0] - 2 * MARGIN))  # the DOCX template's 6.8 | 10.2 cm
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
    """The type faces, once Liberation Serif is registered (parsing its TrueType files takes ~0.2 s)."""
    if FONT_FILES not in rl_config.TTFSearchPath:
        rl_config.TTFSearchPath.append(FONT_FILES)
    for suffix in ("", "-Bold", "-Italic", "-BoldItalic"):
        pdfmetrics.registerFont(TTFont(f"{FONT}{suffix}", f"{FONT}{suffix or '-Regular'}.ttf"))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=f"{FONT}-Bold", italic=f"{FONT}-Italic", boldItalic=f"{FONT}-BoldItalic"
    )
    return {
        "text": _Font(FONT, 10, 12),
        "bold": _Font(f"{FONT}-Bold", 10, 12),
        "italic": _Font(f"{FONT}-Italic", 10, 12),
        "overdue": _Font(f"{FONT}-BoldItalic", 10, 12, OVERDUE),
        "small": _Font(FONT, 8, 10, GREY),
        "gap": _Font(FONT, 1, 5),
    }


@lru_cache
def _styles() -> dict[str, ParagraphStyle]:
    """The DOCX template's paragraph styles, in points: body 10, masthead 12, symbol 14, title 17."""
    text = _fonts()["text"]
    body = ParagraphStyle("body", fontName=FONT, fontSize=text.size, leading=text.leading, spaceAfter=6)
    bold = f"{FONT}-Bold"
    return {
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, spaceAfter=0),
        "head": ParagraphStyle("head", parent=body, fontName=f"{FONT}-Italic", spaceAfter=0),
        "masthead": ParagraphStyle("masthead", parent=body, fontName=bold, fontSize=12, leading=14),
        "symbol": ParagraphStyle("symbol", parent=body, alignment=TA_RIGHT, spaceAfter=0),
        "symbol_big": ParagraphStyle(
            "symbol_big", parent=body, alignment=TA_RIGHT, fontName=bold, fontSize=14, leading=17
        ),
        "title": ParagraphStyle(
            "title", parent=body, fontName=bold, fontSize=17, leading=20, spaceBefore=18, spaceAfter=6
        ),
        "note": ParagraphStyle("note", parent=body, fontName=bold, fontSize=12, leading=15, spaceAfter=12),
        "h1": ParagraphStyle(
            "h1", parent=body, fontName=bold, fontSize=12, leading=15, spaceBefore=12, spaceAfter=6
        ),
        "numbered": ParagraphStyle(
            "numbered",
            parent=body,
            leftIndent=1 * cm,
            bulletIndent=0,
            bulletFontName=FONT,
            alignment=TA_JUSTIFY,
        ),
    }


def _markup(value: str) -> str:
    """Plain text as paragraph markup: escaped, line breaks kept."""
    return escape(_CONTROL.sub("", value)).replace("\n", "<br/>")


def _provision_cell(report: Report, row: ProvisionRow) -> list[Flowable]:
    label, verb, rest = operative_verb(row)
    text = f"{_markup(label)}<i>{_markup(verb)}</i>{_markup(rest)}" if verb else _markup(label + rest)
    cell: list[Flowable] = [Paragraph(text, _styles()["cell"])]
    if report.internal:
        cell.append(_Lines([(_fonts()["small"], row.citation)]))
    return cell


_BLOCK_FONTS = {"": "text", "i": "italic", "b": "bold", "ib": "overdue", "s": "small"}


def _actions_cell(blocks: list[Block]) -> _Lines:
    """The blocks one under the other, a half line between paragraphs of the document variant."""
    fonts = _fonts()
    lines: list[tuple[_Font, str]] = []
    for block in blocks:
        if lines and block.style == "":
            lines.append((fonts["gap"], ""))
        lines.append((fonts[_BLOCK_FONTS[block.style]], _CONTROL.sub("", block.text)))
    return _Lines(lines)


def _annex_table(report: Report, words: Labels) -> Table:
    """Header row, then section and subsection rows spanning both columns and the provisions. In
    the internal variant a provision has one row per activity: short rows paginate cheaply, and a
    provision's later rows carry only its label, grey, so a page that starts inside a provision
    still says which. A cell taller than 3/4 of a page continues on further rows: a row must fit
    on a page, and ReportLab's own splitting inside rows mislays them."""
    styles = _styles()
    head = styles["head"]
    data: list[list[Any]] = [
        [Paragraph(_markup(words.provision_column), head), Paragraph(_markup(words.actions_column), head)]
    ]
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), FONT),  # a spanned row's empty cell is still set in a font
        ("BOX", (0, 0), (-1, -1), 0.5, GREY),
        ("LINEAFTER", (0, 0), (0, -1), 0.5, GREY),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, GREY),
        ("LINEBELOW", (0, "splitlast"), (-1, "splitlast"), 0.5, GREY),  # closes a page's part
    ]
    for item in annex_rows(report):
        first = len(data)
        commands.append(("LINEABOVE", (0, first), (-1, first), 0.5, GREY))
        if item.heading is not None:
            data.append([Paragraph(f"<b>{_markup(item.heading)}</b>", styles["cell"]), ""])
            commands.append(("SPAN", (0, first), (1, first)))
            continue
        row = item.provision
        assert row is not None
        if report.internal and row.activities:
            groups = [
                action_blocks(report, replace(row, activities=(entry,)), words) for entry in row.activities
            ]
        else:
            groups = [action_blocks(report, row, words)]
        for blocks in groups:
            for piece in _pieces(_actions_cell(blocks)):
                left = _provision_cell(report, row) if len(data) == first else _label_cell(row)
                data.append([left, piece])
    return Table(data, colWidths=COLUMNS, repeatRows=1, style=TableStyle(commands))


def _label_cell(row: ProvisionRow) -> _Lines:
    return _Lines([(_fonts()["small"], row.label or "…")])


def _pieces(cell: _Lines) -> list[_Lines]:
    """The cell cut into parts no taller than three quarters of the page's text height."""
    limit = (A4[1] - 2 * MARGIN) * 3 / 4
    pieces = []
    while cell.wrap(CELL_WIDTH, limit)[1] > limit:
        head, cell = cell.split(CELL_WIDTH, limit)
        pieces.append(head)
    return [*pieces, cell]


def _front_matter(report: Report, words: Labels) -> list[Flowable]:
    styles = _styles()
    h = report.header
    mastheads = [Paragraph(f"<b>{_markup(name)}</b>", styles["masthead"]) for name in h.mastheads]
    symbol_block = [Paragraph(f"<b>{_markup(symbol)}</b>", styles["symbol_big"]) for symbol in h.symbols]
    symbol_block += [
        Paragraph(_markup(text), styles["symbol"])
        for text in (words.distribution, h.date_line, " ", words.original)
    ]
    top = Table(
        [[mastheads, symbol_block]],
        colWidths=(0.58 * (A4[0] - 2 * MARGIN), 0.42 * (A4[0] - 2 * MARGIN)),
        style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]),
    )
    story: list[Flowable] = [top, Spacer(0, 12)]
    for meeting in h.meetings:
        lines = [f"<b>{_markup(meeting.title)}</b>", f"<b>{_markup(meeting.place_and_dates)}</b>"]
        if meeting.agenda_item:
            lines.append(_markup(meeting.agenda_item))
        if meeting.agenda_item_title:
            lines.append(f"<b>{_markup(meeting.agenda_item_title)}</b>")
        story.append(Paragraph("<br/>".join(lines), styles["body"]))
    story += [
        Paragraph(_markup(h.title), styles["title"]),
        Paragraph(_markup(h.note_by), styles["note"]),
        Paragraph(_markup(words.introduction), styles["h1"]),
    ]
    introduction, possible = numbered_paragraphs(report)
    story += [
        Paragraph(_markup(text), styles["numbered"], bulletText=f"{number}.") for number, text in introduction
    ]
    if possible:
        story.append(Paragraph(_markup(words.possible_action), styles["h1"]))
        story += [
            Paragraph(_markup(text), styles["numbered"], bulletText=f"{number}.") for number, text in possible
        ]
    return story


def _story(report: Report) -> list[Flowable]:
    styles = _styles()
    words = labels(report)
    story = _front_matter(report, words)
    story += [
        PageBreak(),  # the annex starts on a page of its own, as in the DOCX template
        Paragraph(_markup(words.annex), styles["h1"]),
        Paragraph(f"<b>{_markup(report.header.annex_title)}</b>", styles["body"]),
        Spacer(0, 6),
        _annex_table(report, words),
    ]
    return story


def render_pdf(report: Report) -> bytes:
    h = report.header
    footnotes = [_CONTROL.sub("", m.footnote) for m in h.meetings if m.footnote]

    def first_page(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.setFont(FONT, 8)
        for index, footnote in enumerate(reversed(footnotes)):
            canvas.drawString(MARGIN, MARGIN + 4 + index * 10, footnote)
        if footnotes:
            top = MARGIN + 4 + len(footnotes) * 10
            canvas.line(MARGIN, top, MARGIN + 4 * cm, top)
        _page_number(canvas)

    def later_pages(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.setFont(f"{FONT}-Bold", 9)
        canvas.drawRightString(A4[0] - MARGIN, A4[1] - MARGIN + 14, h.document_symbol)
        _page_number(canvas)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"{h.title}: {h.document_symbol}",
        author=h.secretariats,
        subject=h.meeting_title,
        keywords="synergies; joint activities; " + ", ".join(h.conventions),
        creator="Synergies Tracker",
        lang=h.lang,
    )
    story = _story(report)  # registers the fonts before the canvas starts in one of them
    document.build(
        story,
        onFirstPage=first_page,
        onLaterPages=later_pages,
        canvasmaker=partial(Canvas, initialFontName=FONT),
    )
    return buffer.getvalue()


def _page_number(canvas: Canvas) -> None:
    canvas.setFont(FONT, 9)
    canvas.drawCentredString(A4[0] / 2, MARGIN / 2, str(canvas.getPageNumber()))
