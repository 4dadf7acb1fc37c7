"""The notification outbox: an event is written in the transaction of the change it announces (a
move, a reminder, a due-date change), so it exists exactly when the change does; the
notifications worker's relay (workflows/relay.py) claims due events, plans and sends them, and
deletes each once done. Writing an event again is a no-op while it waits (keyed on its key), and
harmless after: planning is idempotent and sends only what is unsent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import NotificationEvent
from models import OutboxEvent
from models.sql import insert_new_rows

_EVENT = TypeAdapter(NotificationEvent)
ERROR_LIMIT = 4000


def event_json(event: NotificationEvent) -> dict[str, Any]:
    return _EVENT.dump_python(event, mode="json")  # type: ignore[no-any-return]


async def enqueue(session: AsyncSession, events: Iterable[NotificationEvent], now: datetime) -> int:
    """Write the events not already waiting; returns how many were new."""
    rows = [
        {"key": event.key, "event": event_json(event), "available_at": now, "attempts": 0, "created_at": now}
        for event in events
    ]
    return len(await insert_new_rows(session, OutboxEvent, rows))


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    event: NotificationEvent
    attempt: int
    """1 on the first claim."""


async def claim(session: AsyncSession, now: datetime, *, limit: int, lease: timedelta) -> list[ClaimedEvent]:
    """Take up to `limit` due events for `lease` (a relay that dies with them leaves them to the
    next claim after it). The due rows are looked for first, so an idle poll writes nothing (on
    SQLite it takes no write lock); the UPDATE checks each row is still due, so two relays never
    claim the same event."""
    due = list(
        await session.scalars(
            select(OutboxEvent.id)
            .where(OutboxEvent.available_at <= now)
            .order_by(OutboxEvent.available_at, OutboxEvent.id)
            .limit(limit)
        )
    )
    if not due:
        return []
    claimed = await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(due), OutboxEvent.available_at <= now)
        .values(available_at=now + lease, attempts=OutboxEvent.attempts + 1)
        .returning(OutboxEvent.id, OutboxEvent.event, OutboxEvent.attempts)
        .execution_options(synchronize_session=False)
    )
    return sorted(
        (ClaimedEvent(id, _EVENT.validate_python(event), attempts) for id, event, attempts in claimed),
        key=lambda claimed_event: claimed_event.id,
    )


async def retry_later(session: AsyncSession, event_id: int, at: datetime, error: str) -> None:
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(available_at=at, last_error=error[:ERROR_LIMIT])
        .execution_options(synchronize_session=False)
    )


async def remove(session: AsyncSession, event_ids: Sequence[int]) -> None:
    """Done with these: their deliveries are sent or marked failed (the delivery log keeps them)."""
    if event_ids:
        await session.execute(
            delete(OutboxEvent)
            .where(OutboxEvent.id.in_(event_ids))
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class Backlog:
    """What `synergies check` says of the outbox: events wait there only until they are sent."""

    waiting: int
    retrying: int
    oldest: datetime | None
    last_error: str | None

    def line(self) -> str:
        if not self.waiting:
            return "notification outbox: empty"
        events = "1 event" if self.waiting == 1 else f"{self.waiting} events"
        line = f"notification outbox: {events} waiting since {self.oldest:%Y-%m-%d %H:%M} UTC"
        if self.retrying:
            line += f", {self.retrying} after failed attempts (last error: {self.last_error})"
        return line


async def backlog(session: AsyncSession) -> Backlog:
    waiting, retrying, oldest = (
        await session.execute(
            select(
                func.count(),
                func.count(OutboxEvent.last_error),
                func.min(OutboxEvent.created_at),
            )
        )
    ).one()
    last_error = await session.scalar(
        select(OutboxEvent.last_error)
        .where(OutboxEvent.last_error.is_not(None))
        .order_by(OutboxEvent.available_at.desc())
        .limit(1)
    )
    return Backlog(waiting, retrying, oldest, last_error)
