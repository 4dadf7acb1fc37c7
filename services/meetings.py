"""COPs and ExCOPs: their records and lists, and whether a change moves the document deadline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Convention, Meeting, MeetingKind
from services.pagination import Sorting
from services.records import Records, check_period, contains_text, ensure_period, load_by_keys

SORTING = Sorting.of(Meeting, "id", "code", "number", "starts_on", default="starts_on")


def meeting_query(
    kind: MeetingKind | None = None, convention: str | None = None, q: str | None = None
) -> Select[Any]:
    statement = select(Meeting)
    if kind is not None:
        statement = statement.where(Meeting.kind == kind)
    if convention:
        statement = statement.where(Meeting.conventions.any(Convention.code == convention))
    if q:
        statement = statement.where(contains_text(q, Meeting.code, Meeting.title, Meeting.venue))
    return statement


async def _prepare(session: AsyncSession, values: dict[str, Any], meeting: Meeting | None) -> None:
    if meeting is None:  # a new meeting's dates are checked before its conventions
        ensure_period(values["starts_on"], values["ends_on"])
    if "conventions" in values:
        values["conventions"] = await load_by_keys(
            session, Convention.code, values["conventions"], field="conventions", label="convention"
        )


MEETINGS = Records(Meeting, "meeting", unique=Meeting.code, prepare=_prepare, check=check_period)


async def update_meeting(
    session: AsyncSession, meeting: Meeting, changes: dict[str, Any], if_match: str | None
) -> bool:
    """Apply the change; True when the document deadline may have moved (opening or override)."""
    before = (meeting.starts_on, meeting.document_deadline_override)
    await MEETINGS.update(session, meeting, changes, if_match)
    return before != (meeting.starts_on, meeting.document_deadline_override)
