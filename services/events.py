"""The event feed: the transition log read forward by id, for the paginated list and the SSE stream.

The stream reads the durable log (no in-memory broker), so a client that reconnects with its last
id misses nothing, whichever API process it reaches.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import anyio
from pydantic import ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from core.stages import Stage
from models import Activity, Person, Transition
from services.dashboard import DashboardFilter

MAX_PAGE = 1000


@dataclass
class TransitionEvent:
    __pydantic_config__ = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 104,
                    "activity_id": 29,
                    "activity_title": "Report to MC-COP7 on the implementation of decision MC-6/[--]",
                    "seq": 3,
                    "from_stage": "task_team",
                    "to_stage": "report_to_cop",
                    "at": "2026-11-16T09:03:00Z",
                    "actor_id": 5,
                    "actor_name": "Keiko Tanaka",
                    "reason": "The report is drafted for MC-COP7; no pilot phase.",
                    "meeting_id": None,
                }
            ]
        }
    )
    id: int
    activity_id: int
    activity_title: str
    seq: int
    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    actor_id: int | None
    actor_name: str | None
    reason: str | None
    meeting_id: int | None


async def transitions_after(
    session: AsyncSession,
    after: int,
    *,
    limit: int = 100,
    where: DashboardFilter | None = None,
    activity_id: int | None = None,
    up_to: int | None = None,
) -> list[TransitionEvent]:
    """Transitions with id > `after`, ascending by id (the primary key index)."""
    actor = aliased(Person)
    query = (
        select(
            Transition.id,
            Transition.activity_id,
            Activity.title,
            Transition.seq,
            Transition.from_stage,
            Transition.to_stage,
            Transition.at,
            Transition.actor_id,
            actor.name,
            Transition.reason,
            Transition.meeting_id,
        )
        .join(Activity, Activity.id == Transition.activity_id)
        .outerjoin(actor, actor.id == Transition.actor_id)
        .where(Transition.id > after)
        .order_by(Transition.id)
        .limit(max(1, min(limit, MAX_PAGE)))
    )
    if where is not None:
        query = query.where(*where.clauses())
    if activity_id is not None:
        query = query.where(Transition.activity_id == activity_id)
    if up_to is not None:
        query = query.where(Transition.id <= up_to)
    return [
        TransitionEvent(
            id_,
            act_id,
            title,
            seq,
            Stage(src) if src else None,
            Stage(dst),
            at,
            actor_id,
            actor_name,
            reason,
            meeting_id,
        )
        for (
            id_,
            act_id,
            title,
            seq,
            src,
            dst,
            at,
            actor_id,
            actor_name,
            reason,
            meeting_id,
        ) in await session.execute(query)
    ]


async def count_transitions(
    session: AsyncSession, *, where: DashboardFilter | None = None, activity_id: int | None = None
) -> int:
    """How many transitions the feed holds for these filters, on all pages (`?count=true`)."""
    query = select(func.count()).select_from(Transition).join(Activity, Activity.id == Transition.activity_id)
    if where is not None:
        query = query.where(*where.clauses())
    if activity_id is not None:
        query = query.where(Transition.activity_id == activity_id)
    return int(await session.scalar(query) or 0)


async def last_transition_id(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(Transition.id))) or 0)


async def follow_transitions(
    factory: async_sessionmaker[AsyncSession],
    after: int | None,
    *,
    where: DashboardFilter | None = None,
    poll_seconds: float = 1.0,
    batch: int = 200,
    stop: anyio.Event | None = None,
    while_true: Callable[[], Awaitable[bool]] | None = None,
    recheck_seconds: float = 5.0,
) -> AsyncIterator[TransitionEvent]:
    """Yield transitions recorded after `after` (or after the newest one when None), forever.

    Each poll opens a short session and closes it before sleeping, so a long-lived stream holds no
    connection (and no SQLite lock) between polls. Cancellation (client gone, server stopping)
    lands in the sleep or the query and simply ends the generator; setting `stop` ends it at once
    and cleanly (the server is shutting down). `while_true` is asked again every `recheck_seconds`
    (is the caller's token still good?); the generator ends once it says no.
    """
    if after is None:
        async with factory() as session:
            after = await last_transition_id(session)
    cursor = after
    checked_at = time.monotonic()
    while True:
        if while_true is not None and time.monotonic() - checked_at >= recheck_seconds:
            if not await while_true():
                return
            checked_at = time.monotonic()
        async with factory() as session:
            # Read up to the newest id first, so a filtered stream can move its cursor past the ids
            # it skipped (the next poll stays cheap) without missing one recorded meanwhile.
            ceiling = await last_transition_id(session)
            events = await transitions_after(session, cursor, limit=batch, where=where, up_to=ceiling)
        for event in events:
            cursor = event.id
            yield event
        if len(events) == batch:
            continue
        cursor = max(cursor, ceiling)
        if stop is None:
            await anyio.sleep(poll_seconds)
            continue
        with anyio.move_on_after(poll_seconds):
            await stop.wait()
        if stop.is_set():
            return
