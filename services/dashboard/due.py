"""Open activities overdue or due soon."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import OPEN_STAGES, Stage
from models import Activity, Person
from services.dashboard.filters import MAX_LIST, DashboardFilter, Schema
from services.dashboard.sql import keyed


class DueItemRead(Schema):
    id: int
    title: str
    stage: Stage
    due_on: date
    days: int = Field(description="days overdue (overdue list) or days left (due-soon list)")
    lead_id: int | None
    lead_name: str | None
    thematic_group_id: int | None


class DueListRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "total": 1,
                    "items": [
                        {
                            "id": 27,
                            "title": "Membership of the Minamata secretariat in IOMC",
                            "stage": "task_team",
                            "due_on": "2026-12-05",
                            "days": 2,
                            "lead_id": 5,
                            "lead_name": "Keiko Tanaka",
                            "thematic_group_id": 9,
                        }
                    ],
                }
            ]
        }
    )

    as_of: date
    total: int = Field(description="all matching activities; `items` stops at `limit`")
    items: list[DueItemRead]


async def _due_list(
    session: AsyncSession,
    where: DashboardFilter,
    condition: ColumnElement[bool],
    *,
    as_of: date,
    overdue: bool,
    limit: int,
) -> DueListRead:
    where = await keyed(session, where)
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
        items.append(
            DueItemRead(
                id=id_,
                title=title,
                stage=Stage(stage),
                due_on=due_on,
                days=days,
                lead_id=lead_id,
                lead_name=lead_name,
                thematic_group_id=group_id,
            )
        )
    return DueListRead(as_of=as_of, total=int(total or 0), items=items)


async def overdue(
    session: AsyncSession, where: DashboardFilter, *, as_of: date, limit: int = 500
) -> DueListRead:
    """Open activities whose stage due date is before `as_of` (uses ix_activities_stage_due)."""
    return await _due_list(
        session, where, Activity.stage_due_on < as_of, as_of=as_of, overdue=True, limit=limit
    )


async def due_soon(
    session: AsyncSession, where: DashboardFilter, *, as_of: date, days: int, limit: int = 500
) -> DueListRead:
    """Open activities due between `as_of` and `as_of + days`, both inclusive."""
    condition = Activity.stage_due_on.between(as_of, as_of + timedelta(days=days))
    return await _due_list(session, where, condition, as_of=as_of, overdue=False, limit=limit)
