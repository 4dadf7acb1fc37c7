"""COP progress reports: the record as it stood on a day, in the shape of the 2009 annex."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import event

from core.stages import Role
from services.report_render import FORMATS, MEDIA_TYPES, ReportFormat, render
from services.reports import (
    ACTIONS_COLUMN,
    NO_ACTION,
    PROVISION_COLUMN,
    Report,
    build_report,
    format_meeting_dates,
    history_line,
    report_to_dict,
)
from tests.reports.documents import docx_text, pdf_pages
from tests.reports.report_data import (
    MERCURY_TAKEN,
    REPORTING_TAKEN,
    SYMBOL_PREFIX,
    WORKSHOP_LATE,
    WORKSHOP_PLANNED,
    WORKSHOP_TAKEN,
)

END_2010 = date(2010, 12, 31)


async def report_for(
    db, meeting: str | int, as_of: date, variant: str = "internal", **options: Any
) -> Report:
    async with db() as session:
        return await build_report(session, meeting, as_of, variant=variant, **options)


def entry(report_data: dict[str, Any], activity_id: int) -> dict[str, Any]:
    for section in report_data["sections"]:
        for sub in section["subsections"]:
            for row in sub["provisions"]:
                for item in row["activities"]:
                    if item["id"] == activity_id:
                        return item
    raise AssertionError(f"activity {activity_id} not in the report")


# --- the model ----------------------------------------------------------------------------------


async def test_report_lists_every_addressed_provision_by_section_and_subsection(db, data) -> None:
    report = await report_for(db, "SC-COP5", END_2010)

    assert [s.heading for s in report.sections] == [
        "I. Organizational issues in the field",
        "II. Technical issues",
    ]
    assert [sub.heading for sub in report.sections[0].subsections] == [
        "A. Coordination at the national level",
        "B. Programmatic cooperation in the field",
    ]
    technical = report.sections[1].subsections
    assert [sub.heading for sub in technical] == [
        "A. National reporting",
        "B. Compliance/non-compliance mechanisms",
    ]
    assert [row.label for row in technical[0].provisions] == ["(1)", "(1) (a)"]
    rows = {row.element_code: row for _, _, row in report.rows()}
    # every provision is listed, those nobody answered yet (II.2) or answered only later (I.10) too
    assert list(rows) == ["SYN-I-4", "SYN-I-10", "SYN-II-1", "SYN-II-1-a", "SYN-II-2"]
    assert rows["SYN-II-2"].activities == () and rows["SYN-I-10"].activities == ()
    assert report.summary["provisions_without_action"] == 3  # II.1 itself has no action of its own
    assert report.header.document_symbol == f"{SYMBOL_PREFIX}INF/xx"
    assert report.header.dates == "25–29 April 2011"
    assert report.header.title == "Progress report on joint activities"


async def test_report_rebuilds_stage_and_actions_as_they_stood(db, data) -> None:
    report = await report_for(db, "SC-COP5", END_2010)
    workshops = report.sections[0].subsections[0].provisions[0].activities[0]

    assert workshops.stage == "pilot_project"
    assert workshops.stage_due_on == date(2011, 9, 1)
    assert workshops.overdue is False
    assert [line.text for line in workshops.taken] == [WORKSHOP_TAKEN]  # not the 2011 one
    assert [line.text for line in workshops.planned] == [WORKSHOP_PLANNED]
    assert [(c.from_stage, c.to_stage) for c in workshops.history] == [
        ("thematic_group", "task_team"),
        ("task_team", "pilot_project"),
    ]

    before_any_move = await report_for(db, "SC-COP5", date(2010, 1, 20))
    early = before_any_move.sections[0].subsections[0].provisions[0].activities[0]
    assert early.stage == "thematic_group" and early.history == ()
    assert [line.text for line in early.planned] == [WORKSHOP_PLANNED]


async def test_action_entry_for_one_provision_appears_only_under_it(db, data) -> None:
    report = await report_for(db, "SC-COP5", END_2010)
    rows = {row.element_code: row for _, _, row in report.rows()}
    assert rows["SYN-II-1"].activities[0].taken == ()
    assert [line.text for line in rows["SYN-II-1-a"].activities[0].taken] == [REPORTING_TAKEN]


async def test_overdue_when_the_stage_due_date_passed_on_the_as_of_day(db, data) -> None:
    report = await report_for(db, "SC-COP5", date(2010, 8, 31))
    workshops = report.sections[0].subsections[0].provisions[0].activities[0]
    assert (workshops.stage, workshops.stage_due_on, workshops.overdue) == (
        "task_team",
        date(2010, 8, 1),
        True,
    )
    assert report.summary["overdue"] == 1


async def test_reports_before_and_after_a_transition_differ_by_exactly_that_transition(db, data) -> None:
    # the internal variant: the document one carries no stages
    before = report_to_dict(await report_for(db, "SC-COP5", date(2010, 8, 31)))
    after = report_to_dict(await report_for(db, "SC-COP5", date(2010, 9, 1)))

    for report_data in (before, after):
        for key in ("as_of", "date_line", "introduction"):  # the day, and the day as the text says it
            report_data["header"].pop(key)
        report_data.pop("summary")  # counts derived from the stages compared below
    old, new = entry(before, data.workshops), entry(after, data.workshops)
    assert new["history"][:-1] == old["history"]
    assert new["history"][-1] == {
        "seq": 2,
        "at": "2010-09-01T09:00:00+00:00",
        "from_stage": "task_team",
        "to_stage": "pilot_project",
        "reason": None,
        "meeting_code": None,
        "due_on": "2011-09-01",
        "source": None,
    }
    assert (new["stage"], new["stage_due_on"], new["overdue"]) == ("pilot_project", "2011-09-01", False)
    # apply exactly that transition to the old report: the result is the new report
    old.update(
        stage="pilot_project",
        stage_due_on="2011-09-01",
        overdue=False,
        history=[*old["history"], new["history"][-1]],
    )
    assert before == after


async def test_minamata_meeting_report_has_only_mc_provisions(db, data) -> None:
    report = await report_for(db, "MC-COP2", date(2018, 10, 1))
    rows = list(report.rows())
    assert [row.element_code for _, _, row in rows] == ["MC-2-11-1"]
    assert rows[0][2].decisions == ("MC-2/11",)
    assert [line.text for line in rows[0][2].activities[0].taken] == [MERCURY_TAKEN]
    assert report.header.document_symbol == "UNEP/MC/COP.2/INF/xx"


async def test_brs_report_leaves_out_minamata_provisions(db, data) -> None:
    report = await report_for(db, data.sc_cop5, date(2018, 10, 1))
    codes = [row.element_code for _, _, row in report.rows()]
    assert "MC-2-11-1" not in codes
    assert "SYN-I-10" in codes  # created in 2011, reported by 2018
    assert WORKSHOP_LATE in [
        line.text for _, _, row in report.rows() for a in row.activities for line in a.taken
    ]


async def test_report_runs_a_constant_number_of_queries(db, data, engine) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await report_for(db, "SC-COP5", date(2010, 8, 31))
        few = len(statements)
        statements.clear()
        await report_for(db, "SC-COP5", date(2018, 1, 1))  # more activities in scope
        many = len(statements)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert few == many <= 10


def test_meeting_dates_read_like_un_documents() -> None:
    assert format_meeting_dates(date(2010, 2, 22), date(2010, 2, 24)) == "22–24 February 2010"
    assert format_meeting_dates(date(2011, 4, 28), date(2011, 5, 10)) == "28 April–10 May 2011"
    assert format_meeting_dates(date(2010, 12, 28), date(2011, 1, 2)) == ("28 December 2010–2 January 2011")


# --- rendering ----------------------------------------------------------------------------------


async def test_docx_has_one_annex_table_with_section_rows_actions_and_the_running_symbol(db, data) -> None:
    report = await report_for(db, "SC-COP5", END_2010, variant="document")
    content, media_type, filename = render(report, "docx")

    assert media_type == MEDIA_TYPES[ReportFormat.DOCX]
    assert filename == "SC-COP5-progress-report-2010-12-31.docx"
    document, texts = docx_text(content)
    masthead, annex = document.tables
    assert masthead.rows[0].cells[0].text == "Stockholm Convention"
    assert [cell.text for cell in annex.rows[0].cells] == [PROVISION_COLUMN, ACTIONS_COLUMN]
    rows = [[cell.text for cell in row.cells] for row in annex.rows[1:]]
    # section and subsection rows span both columns (python-docx repeats a merged cell's text)
    assert rows[0] == ["I. Organizational issues in the field"] * 2
    assert rows[1] == ["A. Coordination at the national level"] * 2
    assert rows[2][0].startswith("(4) Requests the secretariats to collaborate")
    assert rows[2][1] == f"{WORKSHOP_TAKEN}\nTo be taken:\n{WORKSHOP_PLANNED}"
    no_action = [row[1] for row in rows if row[0].startswith("(2) Requests")]
    assert no_action == [NO_ACTION]
    joined = "\n".join(texts)
    for _, _, row in report.rows():
        assert row.text in joined
    assert REPORTING_TAKEN in joined and WORKSHOP_LATE not in joined
    assert "Stage" not in joined and "pilot_project" not in joined and "[BC" not in joined
    section = document.sections[0]
    assert section.different_first_page_header_footer
    assert [p.text for p in section.header.paragraphs] == ["UNEP/POPS/COP.5/INF/xx"]
    assert "Progress report on joint activities" in joined


async def test_internal_docx_adds_titles_stages_and_history(db, data) -> None:
    report = await report_for(db, "SC-COP5", END_2010)
    _, texts = docx_text(render(report, "docx")[0])
    joined = "\n".join(texts)
    assert "Regional synergies workshops [BC, RC, SC]" in joined
    assert "Stage: pilot project, due 2011-09-01" in joined
    assert f"{WORKSHOP_TAKEN} (2009-10-30)" in joined
    assert all(
        history_line(change) in joined
        for _, _, row in report.rows()
        for a in row.activities
        for change in a.history
    )


async def test_pdf_has_the_symbol_block_sections_and_every_activity_with_its_history(db, data) -> None:
    report = await report_for(db, "SC-COP5", END_2010)
    content, media_type, filename = render(report, "pdf")

    assert media_type == "application/pdf"
    assert filename == "SC-COP5-progress-report-2010-12-31-internal.pdf"
    pages = pdf_pages(content)
    text = " ".join(pages)
    for fragment in (
        "UNEP/POPS/COP.5/INF/xx",
        "Distr.: General",
        "31 December 2010",
        "25–29 April 2011",
        "Progress report on joint activities",
        "I. Organizational issues in the field",
        "A. Coordination at the national level",
        "II. Technical issues",
        "A. National reporting",
        f"{PROVISION_COLUMN} {ACTIONS_COLUMN}",
    ):
        assert fragment in text
    for _, _, row in report.rows():
        assert row.citation in text
        for item in row.activities:
            assert item.title in text
            assert all(history_line(change) in text for change in item.history)
    assert "Stage: pilot project, due 2011-09-01" in text
    assert f"{WORKSHOP_TAKEN} (" in text and f"Planned: {WORKSHOP_PLANNED}" in text
    assert REPORTING_TAKEN in text and WORKSHOP_LATE not in text
    for number, page in enumerate(pages, start=1):
        assert page.startswith(f"{number} ") or page.startswith(f"UNEP/POPS/COP.5/INF/xx {number} ")


async def test_pdf_repeats_the_table_header_on_every_page_and_cuts_what_is_taller_than_a_page(
    db, data
) -> None:
    report = await report_for(db, "SC-COP5", END_2010)
    section = report.sections[0]
    subsection = section.subsections[0]
    row = subsection.provisions[0]
    workshops = row.activities[0]
    long_history = tuple(
        dataclasses.replace(change, seq=seq, reason=f"move {seq}")
        for seq, change in enumerate(workshops.history * 150, start=1)
    )
    many = tuple(
        dataclasses.replace(workshops, id=n, title=f"Workshop {n} {'x' * 200 if n == 7 else ''}".strip())
        for n in range(1, 120)
    )
    longest = dataclasses.replace(workshops, history=long_history)
    long_subsection = dataclasses.replace(
        subsection, provisions=(dataclasses.replace(row, activities=(*many, longest)),)
    )
    long_report = dataclasses.replace(
        report, sections=(dataclasses.replace(section, subsections=(long_subsection,)),)
    )

    pages = pdf_pages(render(long_report, "pdf")[0])
    text = " ".join(pages)
    assert len(pages) > 10
    assert all(f"{PROVISION_COLUMN} {ACTIONS_COLUMN}" in page for page in pages[1:])
    assert all(f"Workshop {n}" in text for n in range(1, 120))
    assert "x" * 40 in text and "x" * 200 not in text  # the 200-letter word, cut to the column's width
    # a line cut by a page break reads on across the next page's running header, table header and label
    page_top = re.compile(
        rf" UNEP/POPS/COP\.5/INF/xx \d+ {re.escape(PROVISION_COLUMN)} {re.escape(ACTIONS_COLUMN)} (\(4\) )?"
    )
    flowing = page_top.sub(" ", text)
    assert all(history_line(change) in flowing for change in long_history)


async def test_every_format_renders_valid_output(db, data) -> None:
    report = await report_for(db, "SC-COP5", END_2010)
    outputs = {fmt: render(report, fmt) for fmt in FORMATS}

    assert {fmt: media for fmt, (_, media, _) in outputs.items()} == {
        fmt.value: MEDIA_TYPES[fmt] for fmt in ReportFormat
    }
    assert WORKSHOP_TAKEN in " ".join(pdf_pages(outputs["pdf"][0]))
    assert outputs["docx"][0].startswith(b"PK")

    html = outputs["html"][0].decode()
    parser = _TagBalance()
    parser.feed(html)
    assert parser.unclosed == [] and parser.tables == 1
    assert WORKSHOP_TAKEN in html and "UNEP/POPS/COP.5/INF/xx" in html
    assert '<td colspan="2"><h3>I. Organizational issues in the field</h3></td>' in html

    markdown = outputs["md"][0].decode()
    assert markdown.count(f"| *{PROVISION_COLUMN}* | *{ACTIONS_COLUMN}* |") == 4  # one per subsection
    assert "### II. Technical issues" in markdown and "#### A. National reporting" in markdown
    assert WORKSHOP_TAKEN in markdown

    rows = list(csv.DictReader(io.StringIO(outputs["csv"][0].decode())))
    assert [(r["element_code"], r["activity_id"]) for r in rows] == [
        ("SYN-I-4", str(data.workshops)),
        ("SYN-I-10", ""),
        ("SYN-II-1", str(data.reporting)),
        ("SYN-II-1-a", str(data.reporting)),
        ("SYN-II-2", ""),
    ]
    assert rows[0]["stage"] == "pilot_project" and WORKSHOP_TAKEN in rows[0]["actions_taken"]

    model = json.loads(outputs["json"][0])
    assert model == report_to_dict(report)
    assert model["header"]["as_of"] == "2010-12-31"


async def test_report_before_any_activity_lists_every_provision_with_no_action(db, data) -> None:
    report = await report_for(db, "SC-COP5", date(2009, 1, 1), variant="document")
    assert all(row.activities == () for _, _, row in report.rows())
    assert report.summary["provisions_without_action"] == report.summary["provisions"] == 5
    for fmt in FORMATS:
        content, _, _ = render(report, fmt)
        assert content
    assert render(report, "md")[0].decode().count(NO_ACTION) == 5


class _TagBalance(HTMLParser):
    VOID = {"meta", "br", "link", "img", "hr", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)
        self.tables += tag == "table"

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    @property
    def unclosed(self) -> list[str]:
        return self.stack


# --- routes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_route_serves_each_format_with_its_media_type(client, people, db, data, fmt) -> None:
    response = await client.get(
        "/reports/meetings/SC-COP5",
        params={"format": fmt, "as_of": "2010-12-31"},
        headers=people.headers(Role.OVERSIGHT),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPES[ReportFormat(fmt)]
    assert f"SC-COP5-progress-report-2010-12-31.{fmt}" in response.headers["content-disposition"]
    if fmt == "pdf":
        assert WORKSHOP_TAKEN in " ".join(pdf_pages(response.content))
    if fmt == "docx":
        _, texts = docx_text(response.content)
        assert WORKSHOP_TAKEN in "\n".join(texts)


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("application/pdf", "pdf"),
        ("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "html"),
        ("text/csv;q=0.5, text/markdown", "md"),
        (MEDIA_TYPES[ReportFormat.DOCX], "docx"),
        ("*/*", "json"),
    ],
)
async def test_route_negotiates_the_format_from_accept(client, people, db, data, accept, fmt) -> None:
    response = await client.get(
        f"/reports/meetings/{data.sc_cop5}",
        params={"as_of": "2010-12-31"},
        headers={**people.headers(Role.TASK_TEAM_LEAD), "Accept": accept},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPES[ReportFormat(fmt)]


async def test_route_json_is_the_report_model_as_of_the_day(client, people, db, data) -> None:
    response = await client.get(
        "/reports/meetings/sc-cop5",
        params={"format": "json", "as_of": "2010-08-31", "variant": "internal"},
        headers=people.headers(Role.COORDINATOR),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["header"]["as_of"] == "2010-08-31"
    assert entry(body, data.workshops)["stage"] == "task_team"


async def test_the_internal_variant_is_for_coordinators_admins_and_oversight(
    client, people, db, data
) -> None:
    """Stages, history, sources and internal notes are not for every reader: a task-team lead
    gets 403 for the internal variant (one COP or the joint note) and the document as before."""
    one = ("/reports/meetings/SC-COP5", {"format": "json", "as_of": "2010-12-31"})
    joint = ("/reports/joint", {"meetings": "SC-COP5", "format": "json", "as_of": "2010-12-31"})
    for path, params in (one, joint):
        internal = {**params, "variant": "internal"}
        refused = await client.get(path, params=internal, headers=people.headers(Role.TASK_TEAM_LEAD))
        assert refused.status_code == 403, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "internal_report_forbidden"
        document = await client.get(path, params=params, headers=people.headers(Role.TASK_TEAM_LEAD))
        assert document.status_code == 200
        for role in (Role.ADMIN, Role.COORDINATOR, Role.OVERSIGHT):
            admitted = await client.get(path, params=internal, headers=people.headers(role))
            assert admitted.status_code == 200, (path, role, admitted.text)
            assert admitted.json()["header"]["variant"] == "internal"


async def test_route_refuses_bad_input_with_problems(client, people, db, data) -> None:
    headers = people.headers(Role.OVERSIGHT)
    missing = await client.get("/reports/meetings/XX-COP99", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "XX-COP99" in missing.json()["detail"]

    bad_format = await client.get("/reports/meetings/SC-COP5", params={"format": "rtf"}, headers=headers)
    assert bad_format.status_code == 422
    assert all(fmt in bad_format.json()["detail"] for fmt in FORMATS)

    bad_date = await client.get("/reports/meetings/SC-COP5", params={"as_of": "2010-02-30"}, headers=headers)
    assert bad_date.status_code == 422 and "as_of" in bad_date.json()["detail"]

    unacceptable = await client.get("/reports/meetings/SC-COP5", headers={**headers, "Accept": "image/png"})
    assert unacceptable.status_code == 406
    assert unacceptable.json()["formats"] == list(FORMATS)

    anonymous = await client.get("/reports/meetings/SC-COP5")
    assert anonymous.status_code == 401


async def test_stored_reports_are_listed_and_downloaded(client, people, db, data) -> None:
    from models import StoredReport

    report = await report_for(db, "SC-COP5", END_2010)
    content, media_type, _ = render(report, "docx")
    async with db() as session, session.begin():
        stored = StoredReport(
            key="test/docx",
            meeting_id=data.sc_cop5,
            format="docx",
            as_of=END_2010,
            media_type=media_type,
            content=content,
        )
        session.add(stored)
    headers = people.headers(Role.TASK_TEAM_LEAD)

    listing = await client.get("/reports/stored", params={"meeting": "SC-COP5"}, headers=headers)
    assert listing.status_code == 200
    [item] = listing.json()["items"]
    assert item["meeting_code"] == "SC-COP5" and item["format"] == "docx"
    assert item["size"] == len(content) and item["download"] == f"/reports/stored/{stored.id}"
    assert (await client.get("/reports/stored", params={"meeting": "MC-COP2"}, headers=headers)).json()[
        "items"
    ] == []

    download = await client.get(item["download"], headers=headers)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"] == media_type
    assert "SC-COP5-progress-report-2010-12-31.docx" in download.headers["content-disposition"]
    assert (await client.get("/reports/stored/999999", headers=headers)).status_code == 404
