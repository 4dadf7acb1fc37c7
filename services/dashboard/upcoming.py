"""Upcoming stage deadlines, meeting openings and document deadlines."""

from __future__ import annotations

import datetime as dt
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Stage
from models import Meeting
from models.reference import DOCUMENT_DEADLINE_BEFORE_OPENING, meeting_conventions
from services.dashboard.due import due_soon
from services.dashboard.filters import DashboardFilter, Schema


class UpcomingKind(StrEnum):
    STAGE_DUE = "stage_due"
    MEETING = "meeting"
    DOCUMENT_DEADLINE = "document_deadline"


class UpcomingItemRead(Schema):
    date: dt.date
    kind: UpcomingKind
    title: str
    days_left: int
    activity_id: int | None
    stage: Stage | None
    lead_name: str | None
    meeting_id: int | None
    meeting_code: str | None
    ends_on: dt.date | None
    conventions: list[str]


async def upcoming(
    session: AsyncSession, where: DashboardFilter, *, as_of: date, days: int, limit: int = 500
) -> list[UpcomingItemRead]:
    """Stage due dates of open activities, meeting openings and document deadlines between
    `as_of` and `as_of + days` (inclusive), by date. The thematic group filter applies to
    activities only; the convention and meeting filters to both."""
    horizon = as_of + timedelta(days=days)
    soon = await due_soon(session, where, as_of=as_of, days=days, limit=limit)
    items = [
        UpcomingItemRead(
            date=item.due_on,
            kind=UpcomingKind.STAGE_DUE,
            title=item.title,
            days_left=item.days,
            activity_id=item.id,
            stage=item.stage,
            lead_name=item.lead_name,
            meeting_id=None,
            meeting_code=None,
            ends_on=None,
            conventions=[],
        )
        for item in soon.items
    ]
    # The document deadline defaults to six weeks before the opening (Meeting.document_deadline):
    # narrow in SQL, then apply the exact rule on the few meetings left.
    meetings = select(Meeting).where(
        Meeting.ends_on >= as_of,
        or_(
            Meeting.starts_on <= horizon + DOCUMENT_DEADLINE_BEFORE_OPENING,
            Meeting.document_deadline_override <= horizon,
        ),
    )
    if where.conventions:
        meetings = meetings.where(
            Meeting.id.in_(
                select(meeting_conventions.c.meeting_id).where(
                    meeting_conventions.c.convention_code.in_(where.conventions)
                )
            )
        )
    if where.meeting_ids:
        meetings = meetings.where(Meeting.id.in_(where.meeting_ids))
    for meeting in (await session.scalars(meetings.order_by(Meeting.starts_on))).all():
        common = {
            "meeting_id": meeting.id,
            "meeting_code": meeting.code,
            "conventions": meeting.convention_codes,
        }
        if as_of <= meeting.starts_on <= horizon:
            items.append(
                UpcomingItemRead(
                    date=meeting.starts_on,
                    kind=UpcomingKind.MEETING,
                    title=meeting.title,
                    days_left=(meeting.starts_on - as_of).days,
                    activity_id=None,
                    stage=None,
                    lead_name=None,
                    ends_on=meeting.ends_on,
                    **common,  # type: ignore[arg-type]
                )
            )
        deadline = meeting.document_deadline
        if as_of <= deadline <= horizon:
            items.append(
                UpcomingItemRead(
                    date=deadline,
                    kind=UpcomingKind.DOCUMENT_DEADLINE,
                    title=f"Document deadline for {meeting.title}",
                    days_left=(deadline - as_of).days,
                    activity_id=None,
                    stage=None,
                    lead_name=None,
                    ends_on=None,
                    **common,  # type: ignore[arg-type]
                )
            )
    kind_order = list(UpcomingKind)
    items.sort(key=lambda i: (i.date, kind_order.index(i.kind), i.activity_id or 0, i.meeting_id or 0))
    return items[:limit]
