"""Recent transitions, newest first."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.stages import Stage
from models import Activity, Person, Transition
from services.dashboard import start_of
from services.oversight.filters import (
    OversightFilter,
    PageRequest,
    Period,
    Table,
    _code,
    _renamed,
    _Schema,
    _table,
)


class TransitionItem(_Schema):
    id: int
    at: datetime
    activity_id: int
    activity_title: str
    from_stage: Stage | None
    to_stage: Stage
    actor_name: str | None
    reason: str | None


class TransitionsView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-01-01",
                    "end": "2026-11-30",
                    "page": 1,
                    "per_page": 1,
                    "has_next": True,
                    "items": [
                        {
                            "id": 104,
                            "at": "2026-11-16T09:03:00Z",
                            "activity_id": 29,
                            "activity_title": "Report to MC-COP7 on the implementation of decision MC-6/[--]",
                            "from_stage": "task_team",
                            "to_stage": "report_to_cop",
                            "actor_name": "Keiko Tanaka",
                            "reason": "The report is drafted for MC-COP7; no pilot phase.",
                        }
                    ],
                }
            ]
        }
    )

    start: date
    end: date
    page: int
    per_page: int
    has_next: bool
    items: list[TransitionItem] = Field(description="newest first")

    def table(self) -> Table:
        return _table(
            self.items,
            "id",
            "at",
            "activity_id",
            "activity_title",
            ("from_stage", _code("from_stage")),
            ("to_stage", _code("to_stage")),
            _renamed("actor", "actor_name"),
            "reason",
        )


async def recent_transitions(
    session: AsyncSession,
    where: OversightFilter,
    *,
    period: Period,
    page: PageRequest,
    after_id: int = 0,
) -> TransitionsView:
    """Transitions within the period, newest first (ix_transitions_at); `after_id` keeps only
    those recorded after a transition the reader already has (the live page polls with it). No
    total: counting a million rows to print "page 1 of 20,000" is not worth its time."""
    actor = aliased(Person)
    listing = (
        select(
            Transition.id,
            Transition.at,
            Transition.activity_id,
            Activity.title,
            Transition.from_stage,
            Transition.to_stage,
            actor.name,
            Transition.reason,
        )
        .join(Activity, Activity.id == Transition.activity_id)
        .outerjoin(actor, actor.id == Transition.actor_id)
        .where(
            Transition.at >= start_of(period.start),
            Transition.at < start_of(period.end + timedelta(days=1)),
            Transition.id > after_id,
            *where.clauses(),
        )
        .order_by(Transition.at.desc(), Transition.id.desc())
    )
    rows = (await session.execute(page.of(listing, one_more=True))).all()
    items = [
        TransitionItem(
            id=id_,
            at=at,
            activity_id=activity_id,
            activity_title=title,
            from_stage=Stage(source) if source else None,
            to_stage=Stage(target),
            actor_name=actor_name,
            reason=reason,
        )
        for id_, at, activity_id, title, source, target, actor_name, reason in rows[: page.per_page]
    ]
    return TransitionsView(
        start=period.start,
        end=period.end,
        page=page.page,
        per_page=page.per_page,
        has_next=len(rows) > page.per_page,
        items=items,
    )
