"""The one factory for activity rows written straight through the ORM (POST /activities is the
lifecycle's, through the API: `tests.lifecycle_support.create`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stages import Stage
from models import Activity, Convention, Provision
from services.transitions import TransitionRecord, record_transition


async def add_activity(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    title: str = "Joint activity",
    conventions: Sequence[str] = ("basel", "rotterdam"),
    provisions: Sequence[str] = (),
    entered_at: datetime | None = None,
    due_on: date | None = None,
    **fields: Any,
) -> Activity:
    """An activity on `conventions` (by code; one missing from the database is added, bare) and
    `provisions` (by element code), with any other column in `fields`; returned as stored.

    Without `entered_at` the row is all there is. With it, the activity enters the thematic group
    then, as the API's create records it: a first transition (None -> thematic group, by its lead,
    due `due_on`) through `services.transitions.record_transition`."""
    if due_on is not None and entered_at is None:
        raise TypeError("due_on is the first transition's: give entered_at too")
    async with sessionmaker() as session, session.begin():
        for code in conventions:
            if await session.get(Convention, code) is None:
                session.add(
                    Convention(
                        code=code, acronym=code[:2].upper(), name=code.title(), short_name=code.title()
                    )
                )
        await session.flush()
        if entered_at is not None:
            fields["stage_entered_at"] = entered_at
        activity = Activity(title=title, **fields)
        activity.conventions = list(
            await session.scalars(select(Convention).where(Convention.code.in_(conventions)))
        )
        activity.provisions = list(
            await session.scalars(select(Provision).where(Provision.element_code.in_(provisions)))
        )
        session.add(activity)
        await session.flush()
        if entered_at is not None:
            await record_transition(
                session,
                TransitionRecord(
                    activity_id=activity.id,
                    seq=1,
                    from_stage=None,
                    to_stage=Stage.THEMATIC_GROUP,
                    actor_id=activity.lead_id,
                    at=entered_at,
                    due_on=due_on,
                ),
            )
    async with sessionmaker() as session:
        return await session.get_one(Activity, activity.id)
