"""Write services/templates/report.docx, the Word template of the COP progress report (docxtpl).

Run once (`python scripts/make_report_template.py`); the .docx it writes is committed and is what a
secretariat edits in Word afterwards: page, type, styles, header and footer live there, not in code.
The placeholders it must keep (docxtpl syntax):
  {{p mastheads}}  {{p symbol_block}}  {{p meeting}}  {{ title }}  {{ note_by }}
  {{ words.introduction }}  {{p introduction}}  {%p if possible_action %} … {%p endif %}
  {{ words.annex }}  {{ annex_title }}  the annex table ({%tr for row in annex %} … {%tr endfor %})
  {{ symbol }} (running header)  {{p footnotes}} (first-page footer).
Styles the renderer names: UN Masthead, UN Symbol, UN Distribution, UN Meeting, UN Paragraph,
UN Cell, UN Footnote (and Title, Subtitle, Heading 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

TARGET = Path(__file__).resolve().parent.parent / "services" / "templates" / "report.docx"
FONT = "Times New Roman"
TEXT_WIDTH = Cm(17)  # A4 less 2 cm margins


def _font(style, size: float, bold: bool = False, italic: bool = False) -> None:
    style.font.name = FONT
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = italic
    style.font.color.rgb = RGBColor(0, 0, 0)
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attribute), FONT)


def _paragraph_style(document, name: str, size: float, bold: bool = False, **layout) -> None:
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    _font(style, size, bold)
    form = style.paragraph_format
    form.space_before = Pt(layout.get("before", 0))
    form.space_after = Pt(layout.get("after", 0))
    if "align" in layout:
        form.alignment = layout["align"]
    if "indent" in layout:
        form.left_indent = layout["indent"]
        form.first_line_indent = -layout["indent"] + layout.get("first", Cm(0))
        form.tab_stops.add_tab_stop(layout["indent"])


def _field(paragraph, instruction: str) -> None:
    """A Word field (PAGE): Word and LibreOffice fill it in when the document is laid out."""
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, instruction), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text == instruction:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {instruction} "
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._r.append(element)


def _no_borders(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.append(borders)


def _row_with(table, text: str, span: bool = False):
    row = table.add_row()
    if span:
        merged = row.cells[0].merge(row.cells[1])
        merged.paragraphs[0].add_run(text)
    else:
        row.cells[0].paragraphs[0].add_run(text)
    return row


def build() -> Document:
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2)
    section.top_margin = section.bottom_margin = Cm(2)
    section.header_distance = section.footer_distance = Cm(1)
    section.different_first_page_header_footer = True

    styles = document.styles
    _font(styles["Normal"], 10)
    styles["Normal"].paragraph_format.space_after = Pt(0)
    _font(styles["Title"], 17, bold=True)
    styles["Title"].paragraph_format.space_before = Pt(18)
    styles["Title"].paragraph_format.space_after = Pt(6)
    title_borders = styles["Title"].element.pPr.find(qn("w:pBdr"))
    if title_borders is not None:
        styles["Title"].element.pPr.remove(title_borders)
    _font(styles["Subtitle"], 12, bold=True)
    styles["Subtitle"].paragraph_format.space_after = Pt(12)
    _font(styles["Heading 1"], 12, bold=True)
    styles["Heading 1"].paragraph_format.space_before = Pt(12)
    styles["Heading 1"].paragraph_format.space_after = Pt(6)
    _font(styles["Heading 2"], 10, bold=True)
    _paragraph_style(document, "UN Masthead", 12, bold=True, after=6)
    _paragraph_style(document, "UN Symbol", 14, bold=True, align=WD_ALIGN_PARAGRAPH.RIGHT, after=6)
    _paragraph_style(document, "UN Distribution", 10, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph_style(document, "UN Meeting", 10)
    _paragraph_style(document, "UN Paragraph", 10, after=6, indent=Cm(1), align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _paragraph_style(document, "UN Cell", 10, after=4)
    _paragraph_style(document, "UN Footnote", 9)

    masthead = document.add_table(rows=1, cols=2)
    _no_borders(masthead)
    masthead.columns[0].width = masthead.rows[0].cells[0].width = Cm(10)
    masthead.columns[1].width = masthead.rows[0].cells[1].width = Cm(7)
    masthead.rows[0].cells[0].paragraphs[0].add_run("{{p mastheads }}")
    masthead.rows[0].cells[1].paragraphs[0].add_run("{{p symbol_block }}")

    document.add_paragraph("")
    document.add_paragraph("{{p meeting }}")
    document.add_paragraph("{{ title }}", style="Title")
    document.add_paragraph("{{ note_by }}", style="Subtitle")
    document.add_paragraph("{{ words.introduction }}", style="Heading 1")
    document.add_paragraph("{{p introduction }}")
    document.add_paragraph("{%p if possible_action %}")
    document.add_paragraph("{{ words.possible_action }}", style="Heading 1")
    document.add_paragraph("{{p possible_action }}")
    document.add_paragraph("{%p endif %}")
    annex = document.add_paragraph("{{ words.annex }}", style="Heading 1")
    annex.paragraph_format.page_break_before = True
    annex_title = document.add_paragraph()
    annex_title.add_run("{{ annex_title }}").bold = True
    annex_title.paragraph_format.space_after = Pt(12)

    table = document.add_table(rows=1, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    head = table.rows[0]
    header_flag = OxmlElement("w:tblHeader")
    header_flag.set(qn("w:val"), "true")
    head._tr.get_or_add_trPr().append(header_flag)
    for cell, text in zip(
        head.cells, ("{{ words.provision_column }}", "{{ words.actions_column }}"), strict=True
    ):
        cell.paragraphs[0].add_run(text).italic = True
    _row_with(table, "{%tr for row in annex %}", span=True)
    _row_with(table, "{%tr if row.heading %}", span=True)
    _row_with(table, "{{p row.heading }}", span=True)
    _row_with(table, "{%tr else %}", span=True)
    provision = table.add_row()
    provision.cells[0].paragraphs[0].add_run("{{p row.left }}")
    provision.cells[1].paragraphs[0].add_run("{{p row.right }}")
    _row_with(table, "{%tr endif %}", span=True)
    _row_with(table, "{%tr endfor %}", span=True)
    for row in table.rows:
        row.cells[0].width = Cm(6.8)
        row.cells[-1].width = Cm(10.2) if len(row.cells) > 1 and row.cells[0] is not row.cells[-1] else Cm(17)

    running = section.header.paragraphs[0]
    running.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    running.add_run("{{ symbol }}").bold = True
    section.first_page_header.paragraphs[0].text = ""
    for footer in (section.footer, section.first_page_footer):
        number = footer.paragraphs[0]
        number.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _field(number, "PAGE")
    section.first_page_footer.paragraphs[0].insert_paragraph_before("{{p footnotes }}")
    return document


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET
    document = build()
    document.core_properties.title = "Progress report on joint activities (template)"
    document.core_properties.author = ""
    document.core_properties.comments = "Word template of the COP progress report (docxtpl placeholders)"
    document.save(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
