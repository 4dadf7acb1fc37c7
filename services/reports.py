"""COP progress reports: the record of joint activities as it stood on a given day.

The report is shaped like the note by the secretariats on joint activities (UNEP/FAO/CHW/RC/POPS/
EXCOPS.1/…, 17 November 2009): front matter (mastheads, symbol, distribution, date, meeting, agenda
item, title, "Note by the secretariat(s)", numbered introduction, "Possible action"), then the annex:
sections I/II/III of the decisions, their subsections A/B/C, and for every provision addressed to
the secretariat(s) a row "Applicable provision of the synergies decisions" | "Actions taken or to be
taken" (or "No action reported").

Two variants of one model: `document`, what a secretariat submits (annex prose only, withdrawn
activities left out), and `internal`, the same with stages, due dates, overdue flags and stage
history for the coordinators group.

Scope: the provisions of the decisions of the meeting's conventions (the synergies decisions for any
Basel, Rotterdam or Stockholm COP) that are addressed to those conventions' secretariats, and the
activities involving those conventions. A joint report (several meetings) is the union.

Everything is rebuilt *as of* a date from append-only data: the stage from the transition log (the
last transition at or before the end of that day, UTC), the actions taken recorded by then
(`on_date`), the actions to be taken (planned, whatever their date) of activities still open then,
and only the activities that existed then. The model is plain dataclasses so the renderers
(`services.report_render`), the API, the CLI and the report workflow share it.

Queries: a constant number (meeting, conventions, provisions and their decisions, activity links,
activities' conventions, action entries, transitions, activities), whatever the number of activities.

By job: the model and its wording (services/report_model.py, re-exported here), the scope
(services/report_scope.py), the annex rows (services/report_rows.py) and the front matter
(services/report_front.py); `build_report` runs them in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from models import Meeting
from services.report_front import front_matter
from services.report_model import (
    ACTIONS_COLUMN,
    NO_ACTION,
    PROVISION_COLUMN,
    REPORT_TITLE,
    SYNERGIES_DECISIONS,
    ActionLine,
    ActivityEntry,
    MeetingLines,
    ProvisionRow,
    Report,
    ReportHeader,
    Section,
    StageChange,
    Subsection,
    Variant,
    action_paragraphs,
    dated_action,
    document_symbol,
    format_meeting_dates,
    history_line,
    provision_label,
    report_to_dict,
    stage_label,
    status_line,
)
from services.report_rows import activities_as_of, annex_sections, summarise
from services.report_scope import addressed_conventions, select_scope
from services.report_text import Text

MeetingRef = Meeting | str | int
"""A meeting, its id or its code."""


def end_of_day(day: date) -> datetime:
    """The first instant after `day` (UTC): the record 'as of' a day includes all of that day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


async def get_meeting(session: AsyncSession, ref: str | int) -> Meeting:
    """A meeting by id ('12', 12) or code ('SC-COP5', case-insensitive); 404 problem otherwise."""
    meeting: Meeting | None = None
    text = str(ref).strip()
    if text.isdigit():
        meeting = await session.get(Meeting, int(text))
    if meeting is None:
        meeting = await session.scalar(select(Meeting).where(Meeting.code == text))
    if meeting is None:
        meeting = await session.scalar(select(Meeting).where(func.upper(Meeting.code) == text.upper()))
    if meeting is None:
        raise NotFound(
            f"meeting {text!r} does not exist (give its id or code, e.g. SC-COP5)", code="meeting_not_found"
        )
    return meeting


async def _meetings(session: AsyncSession, meeting: MeetingRef | Sequence[MeetingRef]) -> list[Meeting]:
    """The meetings reported on, each once, in the order given."""
    refs = [meeting] if isinstance(meeting, Meeting | str | int) else list(meeting)
    meetings = [ref if isinstance(ref, Meeting) else await get_meeting(session, ref) for ref in refs]
    return list({m.id: m for m in meetings}.values())


async def build_report(
    session: AsyncSession,
    meeting: MeetingRef | Sequence[MeetingRef],
    as_of: date,
    *,
    document_number: str | int | None = None,
    variant: Variant | str = Variant.DOCUMENT,
    lang: str = "en",
) -> Report:
    """The progress report for `meeting` (or the joint note for several meetings) as the record
    stood at the end of `as_of` (UTC)."""
    meetings = await _meetings(session, meeting)
    variant = Variant(variant)
    text = Text(lang)
    cutoff = end_of_day(as_of)
    scope = await select_scope(session, meetings, cutoff)
    activities = await activities_as_of(session, scope, as_of, cutoff, variant)
    sections = annex_sections(scope.provisions, scope.links, activities, text)
    summary = summarise(sections)
    header = front_matter(meetings, scope, summary, as_of, variant, text, document_number)
    return Report(header=header, sections=sections, summary=summary)


__all__ = [
    "ACTIONS_COLUMN",
    "NO_ACTION",
    "PROVISION_COLUMN",
    "REPORT_TITLE",
    "SYNERGIES_DECISIONS",
    "ActionLine",
    "ActivityEntry",
    "MeetingLines",
    "ProvisionRow",
    "Report",
    "ReportHeader",
    "Section",
    "StageChange",
    "Subsection",
    "Variant",
    "action_paragraphs",
    "addressed_conventions",
    "build_report",
    "document_symbol",
    "end_of_day",
    "format_meeting_dates",
    "get_meeting",
    "dated_action",
    "history_line",
    "provision_label",
    "report_to_dict",
    "stage_label",
    "status_line",
]
