"""Open activities overdue or due soon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import OPEN_STAGES, Stage
from models import Activity, Person
from services.dashboard.filters import MAX_LIST, DashboardFilter


@dataclass
class DueItem:
    id: int
    title: str
    stage: Stage
    due_on: date
    days: int  # overdue: days past due (> 0); due soon: days left (>= 0)
    lead_id: int | None
    lead_name: str | None
    thematic_group_id: int | None


@dataclass
class DueList:
    as_of: date
    total: int
    items: list[DueItem]


async def _due_list(
    session: AsyncSession,
    where: DashboardFilter,
    condition: ColumnElement[bool],
    *,
    as_of: date,
    overdue: bool,
    limit: int,
) -> DueList:
    clauses = [Activity.stage.in_(OPEN_STAGES), condition, *where.clauses()]
    total = await session.scalar(select(func.count()).select_from(Activity).where(*clauses))
    rows = await session.execute(
        select(
            Activity.id,
            Activity.title,
            Activity.stage,
            Activity.stage_due_on,
            Activity.lead_id,
            Person.name,
            Activity.thematic_group_id,
        )
        .outerjoin(Person, Person.id == Activity.lead_id)
        .where(*clauses)
        .order_by(Activity.stage_due_on, Activity.id)
        .limit(min(limit, MAX_LIST))
    )
    items = []
    for id_, title, stage, due_on, lead_id, lead_name, group_id in rows:
        assert due_on is not None  # the conditions compare it with a date
        days = (as_of - due_on).days if overdue else (due_on - as_of).days
        items.append(DueItem(id_, title, Stage(stage), due_on, days, lead_id, lead_name, group_id))
    return DueList(as_of, int(total or 0), items)


async def overdue(session: AsyncSession, where: DashboardFilter, *, as_of: date, limit: int = 500) -> DueList:
    """Open activities whose stage due date is before `as_of` (uses ix_activities_stage_due)."""
    return await _due_list(
        session, where, Activity.stage_due_on < as_of, as_of=as_of, overdue=True, limit=limit
    )


async def due_soon(
    session: AsyncSession, where: DashboardFilter, *, as_of: date, days: int, limit: int = 500
) -> DueList:
    """Open activities due between `as_of` and `as_of + days`, both inclusive."""
    condition = Activity.stage_due_on.between(as_of, as_of + timedelta(days=days))
    return await _due_list(session, where, condition, as_of=as_of, overdue=False, limit=limit)
