"""What the digest says and its delivery log: a reader's undigested feed entries and the stages due
soon, one `Delivery` per person and day (key `digest/{day}/p{id}`) so that a digest is sent once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from core.stages import OPEN_STAGES
from models import Activity, Channel, Delivery, DeliveryStatus, Notification, Person, activity_watchers
from models.sql import insert_new_rows
from services.deliveries import DIGEST_FLAG, ERROR_LIMIT
from services.notification_messages import DigestEntry, activity_url, stage_name

DIGEST_DUE_WITHIN = timedelta(days=14)  # a digest lists the stages due within two weeks


def digest_key(person_id: int, on: date) -> str:
    return f"digest/{on.isoformat()}/p{person_id}"


def _undigested() -> list[ColumnElement[bool]]:
    return [
        Notification.digested_at.is_(None),
        Notification.payload[DIGEST_FLAG].as_boolean().is_(True),
    ]


async def digest_readers(session: AsyncSession) -> list[Person]:
    """Active people who read a digest, or have entries waiting for one (they switched it off
    since: what was held back still reaches them)."""
    return list(
        await session.scalars(
            select(Person)
            .where(
                Person.active.is_(True),
                or_(
                    Person.daily_digest.is_(True),
                    Person.id.in_(select(Notification.person_id).where(*_undigested())),
                ),
            )
            .order_by(Person.id)
        )
    )


async def due_soon(
    session: AsyncSession, settings: Settings, person: Person, on: date
) -> list[dict[str, Any]]:
    """Open stages the person leads or watches that are due within two weeks or overdue."""
    watched = select(activity_watchers.c.activity_id).where(activity_watchers.c.person_id == person.id)
    rows = await session.execute(
        select(Activity.id, Activity.title, Activity.stage, Activity.stage_due_on)
        .where(
            Activity.stage.in_(OPEN_STAGES),
            Activity.stage_due_on.is_not(None),
            Activity.stage_due_on <= on + DIGEST_DUE_WITHIN,
            or_(Activity.lead_id == person.id, Activity.id.in_(watched)),
        )
        .order_by(Activity.stage_due_on, Activity.id)
    )
    return [
        {
            "id": activity_id,
            "title": title,
            "stage_name": stage_name(stage),
            "due_on": due_on.isoformat(),
            "days_overdue": (on - due_on).days,
            "url": activity_url(settings, activity_id),
        }
        for activity_id, title, stage, due_on in rows
        if due_on is not None
    ]


@dataclass(frozen=True)
class Digest:
    """One reader's digest of one day, its delivery written (pending) before it is sent."""

    key: str
    entries: list[Notification]
    due: list[dict[str, Any]]

    @property
    def changes(self) -> list[DigestEntry]:
        return [
            DigestEntry(
                entry.created_at,
                (entry.payload or {}).get("message")
                or {"subject": entry.title, "summary": entry.body, "link": (entry.payload or {}).get("link")},
            )
            for entry in self.entries
        ]


async def open_digest(session: AsyncSession, settings: Settings, person: Person, on: date) -> Digest | None:
    """The person's digest of `on` with its delivery written, or None when it was sent already or
    there is nothing to say (no entries; for a digest reader, nothing due either)."""
    key = digest_key(person.id, on)
    delivery = await session.scalar(select(Delivery).where(Delivery.key == key))
    if delivery is not None and delivery.status is DeliveryStatus.SENT:
        return None
    entries = list(
        await session.scalars(
            select(Notification)
            .where(Notification.person_id == person.id, *_undigested())
            .order_by(Notification.created_at, Notification.id)
        )
    )
    due = await due_soon(session, settings, person, on) if person.daily_digest else []
    if not entries and not due:
        return None
    await insert_new_rows(
        session,
        Delivery,
        [
            {
                "key": key,
                "notification_id": None,
                "channel": Channel.EMAIL,
                "target": person.email,
                "subscription_id": None,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "created_at": datetime.now(UTC),
            }
        ],
    )
    return Digest(key, entries, due)


async def record_digest_failure(session: AsyncSession, digest: Digest, error: str) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.key == digest.key, Delivery.status != DeliveryStatus.SENT)
        .values(
            status=DeliveryStatus.RETRYING, attempts=Delivery.attempts + 1, last_error=error[:ERROR_LIMIT]
        )
    )


async def record_digest_sent(session: AsyncSession, digest: Digest, now: datetime) -> None:
    """The digest's delivery sent and its entries digested (never listed in another digest)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.key == digest.key)
        .values(status=DeliveryStatus.SENT, sent_at=now, attempts=Delivery.attempts + 1)
    )
    await session.execute(
        update(Notification)
        .where(
            and_(
                Notification.id.in_([entry.id for entry in digest.entries]),
                Notification.digested_at.is_(None),
            )
        )
        .values(digested_at=now)
    )
