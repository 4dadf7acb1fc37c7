"""The SC-COP5 progress report on the default demo data, as a secretariat would submit it.

The report is built as of the meeting's document deadline as stored (14 March 2011 at the real
dates), then the DOCX and the PDF are read back: front matter, A4, every provision of the 2009
annex, the actions to be taken, and none of the internal tracking data.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader
from sqlalchemy import select

from models import ActionEntry, ActionKind, Activity, Meeting, Provision, Stage, Transition
from services.report_render import render
from services.reports import Report, build_report, end_of_day
from services.seed import load_demo_data

GOLDEN = Path(__file__).parent / "golden"

# The 17 provisions of the annex of the 2009 note (UNEP/FAO/CHW/RC/POPS/EXCOPS.1/…), by section.
ANNEX_PROVISIONS = [
    "BRS/SYN/I.A.4",
    "BRS/SYN/I.B.10",
    "BRS/SYN/I.B.13",
    "BRS/SYN/I.C.17",
    "BRS/SYN/I.C.18",
    "BRS/SYN/II.A.1",
    "BRS/SYN/II.A.1.a",
    "BRS/SYN/II.A.1.b",
    "BRS/SYN/II.A.1.c",
    "BRS/SYN/II.B.2",
    "BRS/SYN/II.B.3",
    "BRS/SYN/II.C.4",
    "BRS/SYN/II.C.5",
    "BRS/SYN/III.A.1",
    "BRS/SYN/III.A.2",
    "BRS/SYN/III.B.4",
    "BRS/SYN/III.C.5",
]
# Text the document variant must never print: the workflow's data.
INTERNAL_MARKERS = re.compile(
    r"Stage:|Stage history|\(overdue\)|→|\[(?:BC|RC|SC|MC)[,\]]|Planned:|Planned \(|Taken \(|, due \d{4}-|"
    r"\(unnumbered\)|paragraph unnumbered"
)


def _text(value: str) -> str:
    return " ".join(value.split())


@pytest.fixture
async def sc_cop5(db) -> tuple[Report, dict[str, str], list[str]]:
    """The SC-COP5 report as of its document deadline, the provisions' texts by element code, and the
    planned actions of the activities involving Stockholm still open on that day, under the provisions
    it lists."""
    async with db() as session, session.begin():
        await load_demo_data(session)
    async with db() as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.code == "SC-COP5"))
        assert meeting is not None
        as_of = meeting.document_deadline
        report = await build_report(session, meeting, as_of)
        texts = {p.element_code: p.text for p in await session.scalars(select(Provision))}
        finished_by_then = select(Transition.activity_id).where(
            Transition.to_stage.in_([Stage.CLOSED, Stage.WITHDRAWN]), Transition.at < end_of_day(as_of)
        )
        planned = list(
            await session.scalars(
                select(ActionEntry.text)
                .join(Activity, Activity.id == ActionEntry.activity_id)
                .where(
                    ActionEntry.kind == ActionKind.PLANNED,
                    ActionEntry.provision_id.in_([row.id for _, _, row in report.rows()]),
                    Activity.conventions.any(code="stockholm"),
                    Activity.created_at < end_of_day(as_of),
                    Activity.id.not_in(finished_by_then),
                )
            )
        )
    return report, texts, planned


async def test_sc_cop5_docx_reads_as_the_submitted_document(sc_cop5) -> None:
    report, texts, planned = sc_cop5
    document = Document(io.BytesIO(render(report, "docx")[0]))
    section = document.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    assert round(section.left_margin.cm, 1) == round(section.right_margin.cm, 1) == 2.0
    assert document.styles["Normal"].font.name == "Times New Roman"
    assert document.core_properties.title.startswith("Progress report on joint activities")
    assert document.core_properties.author == "Secretariat of the Stockholm Convention"
    assert document.core_properties.identifier == "UNEP/POPS/COP.5/INF/xx"

    cells = [
        p.text for table in document.tables for row in table.rows for c in row.cells for p in c.paragraphs
    ]
    body = [p.text for p in document.paragraphs]
    front = "\n".join(cells[:12] + body[:40])
    for line in (
        "Stockholm Convention on Persistent Organic Pollutants",
        "UNEP/POPS/COP.5/INF/xx",
        "Distr.: General",
        "14 March 2011",
        "Original: English",
        "Fifth meeting of the Conference of the Parties to the Stockholm Convention",
        "Geneva, Switzerland, 25–29 April 2011",
        "Progress report on joint activities",
        "Note by the secretariat",
        "Introduction",
    ):
        assert line in front, line
    assert "Basel Convention on the Control" not in front  # only the convention whose COP it is for
    introduction = [p.text for p in document.paragraphs if p.style.name == "UN Paragraph"]
    assert introduction[0].startswith("1.\tReference is made to decision SC-4/21 and decision SC-4/34")
    assert "14 March 2011" in introduction[0]

    annex = document.tables[1]
    header = annex.rows[0]
    assert [c.text for c in header.cells] == [
        "Applicable provision of the synergies decisions",
        "Actions taken or to be taken",
    ]
    assert header._tr.trPr.xpath("./w:tblHeader")  # repeated on every page
    joined = _text("\n".join(cells))
    for code in ANNEX_PROVISIONS:
        assert _text(texts[code]) in joined, code
    assert planned and all(_text(text) in joined for text in planned)
    assert "To be taken:" in joined
    assert not INTERNAL_MARKERS.search(joined + "\n".join(body))
    headers = [p.text for p in section.header.paragraphs]
    assert headers == ["UNEP/POPS/COP.5/INF/xx"]
    assert "PAGE" in section.footer._element.xml  # page numbers


async def test_sc_cop5_pdf_is_a4_with_the_front_matter_and_every_provision(sc_cop5) -> None:
    report, texts, planned = sc_cop5
    reader = PdfReader(io.BytesIO(render(report, "pdf")[0]))
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    pages = [_text(page.extract_text()) for page in reader.pages]
    text = " ".join(pages)
    first = pages[0]
    for line in (
        "Stockholm Convention on Persistent Organic Pollutants",
        "UNEP/POPS/COP.5/INF/xx",
        "Distr.: General",
        "14 March 2011",
        "Original: English",
        "Fifth meeting of the Conference of the Parties to the Stockholm Convention",
        "Geneva, Switzerland, 25–29 April 2011",
        "Progress report on joint activities",
        "Note by the secretariat",
        "Introduction",
        "1. Reference is made to decision SC-4/21 and decision SC-4/34",
    ):
        assert line in first, line
    assert reader.metadata.title.startswith("Progress report on joint activities")
    assert reader.metadata.author == "Secretariat of the Stockholm Convention"
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
        if "/BaseFont" in font.get_object()
    }
    faces = {font.split("+")[-1] for font in fonts}
    assert {"LiberationSerif", "LiberationSerif-Bold", "LiberationSerif-Italic"} <= faces, fonts
    for code in ANNEX_PROVISIONS:
        assert _text(texts[code]) in text, code
    assert planned and all(_text(p) in text for p in planned)
    assert not INTERNAL_MARKERS.search(text)
    # the running header's symbol and the page number are drawn before each page's text
    assert pages[0].startswith("1 Stockholm Convention")
    for number, page in enumerate(pages[1:], start=2):
        assert page.startswith(f"UNEP/POPS/COP.5/INF/xx {number} "), page[:60]


async def test_sc_cop5_markdown_matches_the_golden_file(sc_cop5) -> None:
    report, _, _ = sc_cop5
    markdown = render(report, "md")[0].decode()
    golden = GOLDEN / "sc-cop5-2011-03-14.md"
    if os.environ.get("SYNERGIES_UPDATE_GOLDEN"):  # after a deliberate change: rewrite, review, commit
        golden.write_text(markdown, encoding="utf-8")
    assert markdown == golden.read_text(encoding="utf-8")


async def test_the_internal_variant_shows_where_the_record_comes_from(sc_cop5, db) -> None:
    """Provenance (issue 18): the coordinators' variant cites the note for each action and marks
    illustrative moves; the document a secretariat submits carries none of it."""
    document, _, _ = sc_cop5
    async with db() as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.code == "SC-COP5"))
        assert meeting is not None
        internal = await build_report(session, meeting, meeting.document_deadline, variant="internal")
    internal_text = render(internal, "md")[0].decode()
    assert "source: Note by the secretariats on joint activities, 17 November 2009" in internal_text
    assert "[source: Illustrative" in internal_text  # the moves after the note
    assert "source:" not in render(document, "md")[0].decode()
