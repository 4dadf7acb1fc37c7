"""What a COP report lists and says: its scope, its two variants, its front matter and its languages."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from core.stages import Role
from models import ActionEntry, ActionKind, Activity, Convention, Meeting, Provision, Stage
from services.report_render import RenderTimeout, render, render_within
from services.reports import NO_ACTION, Report, build_report
from services.transitions import TransitionRecord, record_transition
from tests.activity_support import add_activity
from tests.reports.report_data import (
    REPORTING_TAKEN,
    WORKSHOP_PLANNED,
    WORKSHOP_TAKEN,
    ReportData,
    at,
)

END_2010 = date(2010, 12, 31)
LOCALE = Path(__file__).resolve().parents[2] / "services" / "locale"


async def report_for(db, meeting, as_of: date = END_2010, **options) -> Report:
    async with db() as session:
        return await build_report(session, meeting, as_of, **options)


async def add_activity_with_action(
    db, data: ReportData, title: str, conventions: list[str], provision: str, text: str
) -> int:
    """An activity of early 2010 on one provision of the data set, with one action taken."""
    async with db() as session:
        element_code = (await session.get_one(Provision, data.provisions[provision])).element_code
    activity = await add_activity(
        db, title=title, conventions=conventions, provisions=(element_code,), created_at=at("2010-01-05")
    )
    async with db() as session, session.begin():
        session.add(
            ActionEntry(activity_id=activity.id, kind=ActionKind.TAKEN, on_date=date(2010, 3, 1), text=text)
        )
    return activity.id


# --- scope --------------------------------------------------------------------------------------


async def test_single_convention_report_lists_only_provisions_addressed_to_its_secretariat(db, data) -> None:
    rotterdam = await report_for(db, "RC-COP5")
    codes = [row.element_code for _, _, row in rotterdam.rows()]
    # II.A (1) and its subparagraph are addressed to the Basel and Stockholm secretariats only
    assert codes == ["SYN-I-4", "SYN-I-10", "SYN-II-2"]
    assert rotterdam.header.mastheads == ("Rotterdam Convention",)
    stockholm = await report_for(db, "SC-COP5")
    assert "SYN-II-1-a" in [row.element_code for _, _, row in stockholm.rows()]


async def test_single_convention_report_leaves_out_activities_not_involving_it(db, data) -> None:
    basel_only = await add_activity_with_action(
        db, data, "Basel compliance exchange", ["BC"], "II.2", "Basel alone did this."
    )
    stockholm = await report_for(db, "SC-COP5")
    assert basel_only not in [a.id for _, _, row in stockholm.rows() for a in row.activities]
    joint = await report_for(db, ["SC-COP5", "RC-COP5"])
    assert basel_only not in [a.id for _, _, row in joint.rows() for a in row.activities]
    async with db() as session, session.begin():
        session.add(
            Meeting(
                code="BC-COP10",
                kind="cop",
                number=10,
                title="Tenth meeting of the Conference of the Parties to the Basel Convention",
                venue="Cartagena",
                starts_on=date(2011, 10, 17),
                ends_on=date(2011, 10, 21),
                conventions=[await session.get(Convention, "BC")],
            )
        )
    basel = await report_for(db, "BC-COP10")
    assert basel_only in [a.id for _, _, row in basel.rows() for a in row.activities]


async def test_joint_report_is_one_note_for_several_cops(client, people, db, data) -> None:
    response = await client.get(
        "/reports/joint",
        params={"meetings": "SC-COP5,RC-COP5", "format": "md", "as_of": "2010-12-31"},
        headers=people.headers(Role.OVERSIGHT),
    )
    assert response.status_code == 200, response.text
    text = response.text
    assert "**Rotterdam Convention**" in text and "**Stockholm Convention**" in text
    assert "UNEP/POPS/COP.5/INF/xx" in text and "UNEP/FAO/RC/COP.5/INF/xx" in text
    assert "## Note by the secretariats" in text
    assert "(1) (a)" in text  # Stockholm's provisions are in the joint note
    assert "SC-COP5+RC-COP5-progress-report-2010-12-31.md" in response.headers["content-disposition"]
    missing = await client.get(
        "/reports/joint", params={"meetings": "SC-COP5,XX-1"}, headers=people.headers(Role.OVERSIGHT)
    )
    assert missing.status_code == 404 and "XX-1" in missing.json()["detail"]
    empty = await client.get(
        "/reports/joint", params={"meetings": " , "}, headers=people.headers(Role.OVERSIGHT)
    )
    assert empty.status_code == 422


# --- variants -----------------------------------------------------------------------------------


async def test_document_leaves_out_withdrawn_activities_internal_shows_them(db, data) -> None:
    abandoned = await add_activity_with_action(
        db, data, "Abandoned compliance study", ["BC", "RC", "SC"], "II.2", "Dropped."
    )
    async with db() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(
                activity_id=abandoned,
                seq=1,
                from_stage=Stage.THEMATIC_GROUP,
                to_stage=Stage.WITHDRAWN,
                actor_id=None,
                at=at("2010-06-01"),
                reason="merged into the compliance work of each convention",
            ),
        )
    document = await report_for(db, "SC-COP5")
    rows = {row.element_code: row for _, _, row in document.rows()}
    assert rows["SYN-II-2"].activities == ()
    assert "Dropped." not in render(document, "md")[0].decode()
    assert NO_ACTION in render(document, "md")[0].decode()
    internal = await report_for(db, "SC-COP5", variant="internal")
    [entry] = {row.element_code: row for _, _, row in internal.rows()}["SYN-II-2"].activities
    assert (entry.id, entry.stage) == (abandoned, "withdrawn")
    before = await report_for(db, "SC-COP5", date(2010, 5, 31))  # not yet withdrawn then
    assert [a.id for a in {r.element_code: r for _, _, r in before.rows()}["SYN-II-2"].activities] == [
        abandoned
    ]


async def test_actions_to_be_taken_appear_before_their_date(db, data) -> None:
    report = await report_for(db, "SC-COP5", date(2009, 12, 31))  # the workshop is planned for 2010-01-15
    workshops = report.sections[0].subsections[0].provisions[0].activities[0]
    assert [line.text for line in workshops.planned] == [WORKSHOP_PLANNED]
    assert f"*To be taken:*<br><br>{WORKSHOP_PLANNED}" in render(report, "md")[0].decode()


async def test_report_reads_the_activitys_current_due_date(db, data) -> None:
    async with db() as session, session.begin():  # edited since the last move (2011-09-01)
        await session.execute(
            update(Activity).where(Activity.id == data.workshops).values(stage_due_on=date(2010, 10, 1))
        )
    report = await report_for(db, "SC-COP5", variant="internal")
    workshops = report.sections[0].subsections[0].provisions[0].activities[0]
    assert (workshops.stage_due_on, workshops.overdue) == (date(2010, 10, 1), True)


async def test_document_json_and_csv_carry_no_workflow_data(db, data) -> None:
    report = await report_for(db, "SC-COP5")
    model = render(report, "json")[0].decode()
    assert '"stage"' not in model and '"history"' not in model and '"overdue"' not in model
    header = next(csv.reader(io.StringIO(render(report, "csv")[0].decode())))
    assert "stage" not in header and "overdue" not in header
    internal = next(
        csv.reader(
            io.StringIO(render(await report_for(db, "SC-COP5", variant="internal"), "csv")[0].decode())
        )
    )
    assert {"stage", "overdue", "stage_history"} <= set(internal)


# --- hostile content ----------------------------------------------------------------------------


async def test_markdown_escapes_raw_html_and_csv_neutralises_formulas(db, data) -> None:
    await add_activity_with_action(
        db, data, "<b>bold</b>", ["SC"], "II.2", '<script>alert(1)</script> =HYPERLINK("http://x")'
    )
    report = await report_for(db, "SC-COP5")
    markdown = render(report, "md")[0].decode()
    assert "<script>" not in markdown and "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    html = render(report, "html")[0].decode()
    assert "<script>" not in html
    formula = await add_activity_with_action(db, data, "=cmd|' /C calc'!A0", ["SC"], "II.2", "=1+2")
    rows = list(csv.DictReader(io.StringIO(render(await report_for(db, "SC-COP5"), "csv")[0].decode())))
    [row] = [r for r in rows if r["activity_id"] == str(formula)]
    assert row["activity_title"].startswith("'=") and not row["actions_taken"].startswith("=")


async def test_rendering_past_its_time_budget_is_refused(db, data) -> None:
    report = await report_for(db, "SC-COP5")
    with pytest.raises(RenderTimeout) as refused:
        await render_within(report, "pdf", 0)
    assert refused.value.status == 503
    content, _, _ = await render_within(report, "md", 30)
    assert WORKSHOP_TAKEN.encode() in content


# --- front matter -------------------------------------------------------------------------------


async def test_front_matter_set_through_the_api_is_printed_in_every_format(client, people, db, data) -> None:
    admin = people.headers(Role.ADMIN)
    changed = await client.patch(
        f"/meetings/{data.sc_cop5}",
        json={
            "report_symbol": "UNEP/POPS/COP.5/INF/21",
            "agenda_item": "5 (i)",
            "agenda_item_title": "Matters for consideration or action: synergies",
            "agenda_symbol": "UNEP/POPS/COP.5/1",
            "report_introduction": (
                "The secretariat thanks the Parties.\n\nIt also thanks the regional centres."
            ),
            "report_possible_action": (
                "The Conference of the Parties may wish to take note of the present note."
            ),
        },
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["agenda_item"] == "5 (i)"
    too_long = await client.patch(f"/meetings/{data.sc_cop5}", json={"agenda_item": "x" * 40}, headers=admin)
    assert too_long.status_code == 422

    params = {"as_of": "2010-12-31"}
    md = (
        await client.get("/reports/meetings/SC-COP5", params={**params, "format": "md"}, headers=admin)
    ).text
    for line in (
        "UNEP/POPS/COP.5/INF/21",
        "Item 5 (i) of the provisional agenda\\*",
        "**Matters for consideration or action: synergies**",
        "\\* UNEP/POPS/COP.5/1.",
        "4. The secretariat thanks the Parties.",
        "5. It also thanks the regional centres.",
        "### Possible action",
        "6. The Conference of the Parties may wish to take note of the present note.",
    ):
        assert line in md, line
    assert "(unnumbered)" not in md
    pdf = await client.get("/reports/meetings/SC-COP5", params={**params, "format": "pdf"}, headers=admin)
    from pypdf import PdfReader

    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf.content)).pages
    )
    for line in (
        "UNEP/POPS/COP.5/INF/21",
        "Item 5 (i) of the provisional agenda*",
        "* UNEP/POPS/COP.5/1.",
        "Possible action",
    ):
        assert line in text, line
    from docx import Document

    docx = await client.get("/reports/meetings/SC-COP5", params={**params, "format": "docx"}, headers=admin)
    document = Document(io.BytesIO(docx.content))
    body = "\n".join(p.text for p in document.paragraphs)
    assert "Item 5 (i) of the provisional agenda*" in body and "Possible action" in body
    assert "6.\tThe Conference of the Parties may wish" in body
    footer = "\n".join(p.text for p in document.sections[0].first_page_footer.paragraphs)
    assert "* UNEP/POPS/COP.5/1." in footer


# --- languages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "lines"),
    [
        (
            "fr",
            [
                "Distr. : générale",
                "Original : anglais",
                "31 décembre 2010",
                "Note du secrétariat",
                "Annexe",
                "Mesures prises ou à prendre",
                "Aucune mesure signalée.",
                "25–29 avril 2011",
            ],
        ),
        (
            "es",
            [
                "Distr. general",
                "Original: inglés",
                "31 de diciembre de 2010",
                "Nota de la secretaría",
                "Anexo",
                "Medidas adoptadas o por adoptar",
                "No se ha informado de ninguna medida.",
            ],
        ),
    ],
)
async def test_fixed_text_in_french_and_spanish_content_as_entered(
    client, people, db, data, lang, lines
) -> None:
    response = await client.get(
        "/reports/meetings/SC-COP5",
        params={"as_of": "2010-12-31", "format": "md", "lang": lang},
        headers=people.headers(Role.OVERSIGHT),
    )
    assert response.status_code == 200
    for line in lines:
        assert line in response.text, line
    assert REPORTING_TAKEN in response.text and "Distr.: General" not in response.text
    assert response.headers["content-disposition"].endswith(f'-{lang}.md"')
    refused = await client.get(
        "/reports/meetings/SC-COP5", params={"lang": "de"}, headers=people.headers(Role.OVERSIGHT)
    )
    assert refused.status_code == 422


def test_compiled_catalogs_match_their_sources() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "compile_catalogs", Path(__file__).resolve().parents[2] / "scripts" / "compile_catalogs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sources = sorted(LOCALE.glob("*/LC_MESSAGES/reports.po"))
    assert [p.parent.parent.name for p in sources] == ["es", "fr"]
    for source in sources:
        assert source.with_suffix(".mo").read_bytes() == module.compiled(source), (
            f"run scripts/compile_catalogs.py ({source})"
        )


async def test_a_secretariats_own_word_template_replaces_the_shipped_one(
    db, data, tmp_path, monkeypatch
) -> None:
    from docx import Document

    from core.settings import get_settings
    from services.report_render import DOCX_TEMPLATE

    edited = Document(str(DOCX_TEMPLATE))  # what a secretariat does in Word: restyle, keep the tags
    edited.styles["Normal"].font.name = "Arial"
    edited.sections[0].header.paragraphs[0].runs[0].italic = True
    own = tmp_path / "our-template.docx"
    edited.save(str(own))
    monkeypatch.setenv("SYNERGIES_REPORT_DOCX_TEMPLATE", str(own))
    get_settings.cache_clear()
    try:
        report = await report_for(db, "SC-COP5")
        document = Document(io.BytesIO(render(report, "docx")[0]))
    finally:
        get_settings.cache_clear()
    assert document.styles["Normal"].font.name == "Arial"
    assert document.sections[0].header.paragraphs[0].runs[0].italic
    assert document.sections[0].header.paragraphs[0].text == "UNEP/POPS/COP.5/INF/xx"
    assert WORKSHOP_TAKEN in "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)


async def test_a_finished_activity_has_nothing_left_to_be_taken(db, data) -> None:
    async with db() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(
                activity_id=data.workshops,
                seq=3,
                from_stage=Stage.PILOT_PROJECT,
                to_stage=Stage.CLOSED,
                actor_id=None,
                at=at("2010-10-01"),
            ),
        )
    closed = (await report_for(db, "SC-COP5")).sections[0].subsections[0].provisions[0].activities[0]
    assert [line.text for line in closed.taken] == [WORKSHOP_TAKEN] and closed.planned == ()
    still_open = (await report_for(db, "SC-COP5", date(2010, 9, 30))).sections[0].subsections[0]
    assert [line.text for line in still_open.provisions[0].activities[0].planned] == [WORKSHOP_PLANNED]
