"""The demo data's progress reports for the 2011 COPs cover every annex section with activities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Activity, Meeting, Provision
from services.report_render import render
from services.reports import build_report
from services.seed import load_demo_data
from tests.reports.documents import docx_text

ANNEX_SECTIONS = {
    "I": "I. Organizational issues in the field",
    "II": "II. Technical issues",
    "III": "III. Information management and public awareness issues",
}


@pytest.mark.parametrize("code", ["SC-COP5", "RC-COP5", "BC-COP10"])
async def test_demo_report_for_each_2011_cop_has_every_annex_section_with_activities(db, code: str) -> None:
    async with db() as session, session.begin():
        await load_demo_data(session)
    async with db() as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.code == code))
        assert meeting is not None
        as_of = meeting.document_deadline
        activities = await session.scalars(
            select(Activity).options(selectinload(Activity.provisions).selectinload(Provision.decisions))
        )
        cutoff = as_of + timedelta(days=1)
        expected = {
            provision.section
            for activity in activities
            if activity.created_at.date() < cutoff
            for provision in activity.provisions
            if provision.section in ANNEX_SECTIONS
            and {"IX/10", "RC-4/11", "SC-4/34"} & set(provision.decision_symbols)
        }
        report = await build_report(session, meeting, as_of)

    assert expected, "the demo data should answer the synergies decisions"
    headings = [section.heading for section in report.sections]
    assert {ANNEX_SECTIONS[number] for number in expected} <= set(headings)
    for section in report.sections:
        assert all(sub.provisions for sub in section.subsections)
        assert any(row.activities for sub in section.subsections for row in sub.provisions)
    _, texts = docx_text(render(report, "docx")[0])
    joined = "\n".join(texts)
    assert all(ANNEX_SECTIONS[number] in joined for number in expected)
    assert report.header.document_symbol in {
        f"{meeting.document_symbol_prefix}INF/xx",
    }


def test_cli_report_writes_the_docx(tmp_path, database_url, monkeypatch) -> None:
    import asyncio

    from typer.testing import CliRunner

    from cli.main import app
    from core.settings import get_settings
    from models.db import create_engine, session_factory
    from tests.conftest import empty_all_tables
    from tests.reports.report_data import WORKSHOP_TAKEN, build_report_data

    async def prepare() -> None:
        engine = create_engine(database_url)
        try:
            await empty_all_tables(engine)
            await build_report_data(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        target = tmp_path / "file.docx"
        args = ["report", "SC-COP5", "--format", "docx", "--as-of", "2010-12-31", "--output"]
        result = CliRunner().invoke(app, [*args, str(target)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        _, texts = docx_text(target.read_bytes())
        assert WORKSHOP_TAKEN in "\n".join(texts)
        refused = CliRunner().invoke(app, ["report", "XX-COP1", "--output", str(target)])
        assert refused.exit_code == 1 and "XX-COP1" in refused.output
        bad = CliRunner().invoke(app, ["report", "SC-COP5", "--format", "rtf"])
        assert bad.exit_code == 1 and "docx" in bad.output
        markdown = tmp_path / "file.md"
        front = [
            "--symbol",
            "UNEP/POPS/COP.5/INF/21",
            "--agenda-item",
            "5 (i)",
            "--agenda-symbol",
            "UNEP/POPS/COP.5/1",
        ]
        options = [*front, "--possible-action", "The Conference may wish to take note.", "--lang", "fr"]
        args = ["report", "SC-COP5", "--format", "md", "--as-of", "2010-12-31", *options, "--output"]
        result = CliRunner().invoke(app, [*args, str(markdown)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        text = markdown.read_text()
        assert "UNEP/POPS/COP.5/INF/21" in text and "Point 5 (i) de l’ordre du jour provisoire\\*" in text
        assert "The Conference may wish to take note." in text and "Distr. : générale" in text
        again = CliRunner().invoke(
            app, ["report", "SC-COP5", "--format", "md", "--as-of", "2010-12-31", "-o", "-"]
        )
        assert "UNEP/POPS/COP.5/INF/21" in again.output  # stored on the meeting
        joint = CliRunner().invoke(app, ["report", "SC-COP5,RC-COP5", "--format", "md", "-o", "-"])
        assert joint.exit_code == 0 and "Note by the secretariats" in joint.output
        refused = CliRunner().invoke(app, ["report", "SC-COP5,RC-COP5", "--symbol", "X", "-o", "-"])
        assert refused.exit_code == 1 and "single meeting" in refused.output
    finally:
        get_settings.cache_clear()
