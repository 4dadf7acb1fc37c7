"""The activity list behind every count (the drill-down)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.stages import Stage
from models import Activity, Body, Convention, Meeting, Person, activity_conventions, activity_provisions
from services import dashboard
from services.oversight.due import DueBucket, _open, _reminders_pending
from services.oversight.filters import (
    _ACTIVITY_COLUMNS,
    ESCALATIONS,
    LEAD_REMINDERS,
    OversightFilter,
    PageRequest,
    Table,
    _joined,
    _Schema,
    _table,
    _with_lead_and_group,
)


class Pending(StrEnum):
    """A reminder to the lead, or an escalation, that nobody has acknowledged yet."""

    REMINDER = "reminder"
    ESCALATION = "escalation"

    @property
    def kinds(self) -> tuple[str, ...]:
        return LEAD_REMINDERS if self is Pending.REMINDER else ESCALATIONS


@dataclass(frozen=True)
class Drill:
    """What a count adds to the filter when it is followed: a provision, a due bucket, a pending
    reminder or escalation."""

    provision_id: int | None = None
    due: DueBucket | None = None
    pending: Pending | None = None

    def clauses(self, as_of: date) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.provision_id is not None:
            clauses.append(
                Activity.id.in_(
                    select(activity_provisions.c.activity_id).where(
                        activity_provisions.c.provision_id == self.provision_id
                    )
                )
            )
        if self.due is not None:
            clauses += [_open(), self.due.clause(as_of)]
        if self.pending is not None:
            clauses += [_open(), _reminders_pending(self.pending.kinds)]
        return clauses


class ActivityRow(_Schema):
    id: int
    title: str
    stage: Stage
    due_on: date | None
    days_left: int | None = Field(description="negative: days overdue; null when not due")
    lead_name: str | None
    thematic_group: str | None
    target_meeting: str | None
    conventions: list[str] = Field(description="acronyms")


class ActivityListView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "total": 29,
                    "page": 1,
                    "per_page": 1,
                    "pages": 29,
                    "items": [
                        {
                            "id": 1,
                            "title": "Regional synergies workshops",
                            "stage": "closed",
                            "due_on": None,
                            "days_left": None,
                            "lead_name": "Lucía Fernández",
                            "thematic_group": "Inter-secretariat thematic group on technical assistance",
                            "target_meeting": "SC-COP5",
                            "conventions": ["BC"],
                        }
                    ],
                }
            ]
        }
    )

    as_of: date
    total: int
    page: int
    per_page: int
    pages: int
    items: list[ActivityRow]

    def table(self) -> Table:
        conventions = ("conventions", _joined("conventions"))
        return _table(self.items, *_ACTIVITY_COLUMNS, "target_meeting", conventions)


async def activity_list(
    session: AsyncSession, where: OversightFilter, drill: Drill, *, as_of: date, page: PageRequest
) -> ActivityListView:
    """The activities behind a count, by id (the order the board's cards and the API use)."""
    where = await dashboard.keyed(session, where)
    clauses = [*where.clauses(), *drill.clauses(as_of)]
    total = int(await session.scalar(select(func.count()).select_from(Activity).where(*clauses)) or 0)
    group, meeting = aliased(Body), aliased(Meeting)
    listing = select(
        Activity.id,
        Activity.title,
        Activity.stage,
        Activity.stage_due_on,
        Person.name,
        group.name,
        meeting.code,
    )
    listing = _with_lead_and_group(listing, group).outerjoin(
        meeting, meeting.id == Activity.target_meeting_id
    )
    rows = (await session.execute(page.of(listing.where(*clauses).order_by(Activity.id)))).all()
    acronyms: dict[int, list[str]] = defaultdict(list)
    if rows:
        for activity_id, acronym in await session.execute(
            select(activity_conventions.c.activity_id, Convention.acronym)
            .join(Convention, Convention.code == activity_conventions.c.convention_code)
            .where(activity_conventions.c.activity_id.in_([row[0] for row in rows]))
            .order_by(activity_conventions.c.activity_id, Convention.acronym)
        ):
            acronyms[activity_id].append(acronym)
    items = []
    for id_, title, stage, due_on, lead_name, group_name, meeting_code in rows:
        stage = Stage(stage)
        days_left = (due_on - as_of).days if due_on is not None and stage.is_open else None
        items.append(
            ActivityRow(
                id=id_,
                title=title,
                stage=stage,
                due_on=due_on,
                days_left=days_left,
                lead_name=lead_name,
                thematic_group=group_name,
                target_meeting=meeting_code,
                conventions=acronyms.get(id_, []),
            )
        )
    return ActivityListView(
        as_of=as_of,
        total=total,
        page=page.page,
        per_page=page.per_page,
        pages=max(1, math.ceil(total / page.per_page)),
        items=items,
    )
