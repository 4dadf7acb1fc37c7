"""An event's feed entries and deliveries, written once, and the outcome of each send.

Planning an event writes one feed entry (`Notification`) per person and group, and one `Delivery`
per (channel, target), keyed on the event key so that planning again (a retried activity) writes
nothing twice. A delivery is marked sent only after its send succeeded; a failed attempt is counted
with its error; what is left after the last attempt is marked failed, never sent. Digest readers get
no e-mail delivery: their feed entry is flagged for the digest (services/digest.py) instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Audience, NotificationEvent
from core.settings import Settings
from models import Channel, Delivery, DeliveryStatus, Notification, Subscription
from models.sql import insert_new_rows
from services.notification_messages import Why, build_message, event_activity
from services.recipients import EventRecipient, GroupAddress, drop_own_email, recipients_of

KEY_LIMIT = 300  # Delivery.key / Notification.key column length
DIGEST_FLAG = "digest"
"""Payload flag of a feed entry whose e-mail goes into its reader's digest."""
ERROR_LIMIT = 4000  # Delivery.last_error is cut here

GROUP_WHY = {Audience.COORDINATORS: Why.COORDINATORS_GROUP, Audience.MANAGEMENT: Why.MANAGEMENT_GROUP}


def _key(*parts: str) -> str:
    """Parts joined by "/", cut to the column length with a hash keeping long keys unique."""
    key = "/".join(parts)
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: KEY_LIMIT - 72]}/sha256:{digest}"


def delivery_key(event_key: str, channel: Channel, target: str) -> str:
    return _key(event_key, channel.value, target)


def notification_key(event_key: str, person_id: int) -> str:
    return _key(event_key, f"p{person_id}")


def group_notification_key(event_key: str, audience: Audience) -> str:
    return _key(event_key, audience.value)


def event_payload(event: NotificationEvent, message: dict[str, Any]) -> dict[str, Any]:
    """What a feed entry keeps: the event as the workflow raised it, the message rendered from
    it (and the link of both, absolute)."""
    return {
        "key": event.key,
        "type": event.type.value,
        "title": event.title,
        "body": event.body,
        "activity_id": event.activity_id,
        "stage": event.stage,
        "conventions": list(event.conventions),
        "thematic_group_id": event.thematic_group_id,
        "audiences": [audience.value for audience in event.audiences],
        "due_on": event.due_on.isoformat() if event.due_on else None,
        "data": dict(event.data),
        "link": message["link"],
        "message": message,
    }


@dataclass(frozen=True)
class EventPlan:
    """The planned event: the deliveries still to send, and how many feed entries this plan
    delivered (a feed delivery is sent once its row commits)."""

    pending: list[int]
    new_feed_entries: int


def _notification_row(
    event: NotificationEvent,
    message: dict[str, Any],
    key: str,
    person_id: int | None,
    payload: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "key": key,
        "person_id": person_id,
        "event_type": event.type.value,
        "activity_id": event.activity_id,
        "title": message["subject"][:300],
        "body": message["summary"],
        "payload": payload,
        "created_at": now,
    }


def _notification_rows(
    event: NotificationEvent,
    message: dict[str, Any],
    recipients: dict[int, EventRecipient],
    groups: list[GroupAddress],
    now: datetime,
) -> list[dict[str, Any]]:
    """One feed entry per person (saying why they hear of it; flagged for the digest when their
    e-mail goes there) and one per group address."""
    payload = event_payload(event, message)
    rows = []
    for person_id, recipient in recipients.items():
        digest = recipient.person.daily_digest and any(
            channel is Channel.EMAIL for channel, _ in recipient.channels
        )
        who: dict[str, Any] = {
            "name": recipient.person.name,
            "why": recipient.why.value,
            "conventions": list(recipient.conventions),
        }
        rows.append(
            _notification_row(
                event,
                message,
                notification_key(event.key, person_id),
                person_id,
                {**payload, "recipient": who, DIGEST_FLAG: digest},
                now,
            )
        )
    for audience, _address in groups:
        who = {"name": None, "why": GROUP_WHY[audience].value, "conventions": []}
        rows.append(
            _notification_row(
                event,
                message,
                group_notification_key(event.key, audience),
                None,
                {**payload, "recipient": who},
                now,
            )
        )
    return rows


async def _notification_ids(session: AsyncSession, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = await session.execute(select(Notification.key, Notification.id).where(Notification.key.in_(keys)))
    return dict(rows.all())


def _delivery_rows(
    event: NotificationEvent,
    recipients: dict[int, EventRecipient],
    groups: list[GroupAddress],
    notification_ids: dict[str, int],
    now: datetime,
) -> list[dict[str, Any]]:
    """One delivery per (channel, target), the first feed entry that asked for it owning it: each
    person's feed entry, their channels (e-mail of digest readers excepted), the group mails."""
    rows: dict[str, dict[str, Any]] = {}

    def add(notification_id: int, channel: Channel, target: str, subscription_id: int | None) -> None:
        key = delivery_key(event.key, channel, target)
        sent = channel is Channel.FEED  # the feed entry exists once this commits
        rows.setdefault(
            key,
            {
                "key": key,
                "notification_id": notification_id,
                "channel": channel,
                "target": target,
                "subscription_id": subscription_id,
                "status": DeliveryStatus.SENT if sent else DeliveryStatus.PENDING,
                "attempts": 1 if sent else 0,
                "created_at": now,
                "sent_at": now if sent else None,
            },
        )

    for person_id, recipient in recipients.items():
        notification_id = notification_ids[notification_key(event.key, person_id)]
        add(notification_id, Channel.FEED, f"person:{person_id}", None)
        for (channel, target), subscription_id in recipient.channels.items():
            if channel is Channel.EMAIL and recipient.person.daily_digest:
                continue  # goes into the digest
            add(notification_id, channel, target, subscription_id)
    for audience, address in groups:
        add(notification_ids[group_notification_key(event.key, audience)], Channel.EMAIL, address, None)
    return list(rows.values())


async def plan_event(
    session: AsyncSession, settings: Settings, event: NotificationEvent, now: datetime
) -> EventPlan:
    """Write the feed entries and deliveries of `event` once (the message rendered from the
    database as it stands now); return the deliveries still to send."""
    subject = await event_activity(session, event)  # read once for the message and the recipients
    message = await build_message(session, settings, event, now, subject)
    recipients, groups = await recipients_of(session, settings, event, subject)
    drop_own_email(recipients, (message.get("actor") or {}).get("id"))
    notification_rows = _notification_rows(event, message, recipients, groups, now)
    keys = [row["key"] for row in notification_rows]
    new_notifications = await insert_new_rows(
        session, Notification, notification_rows, Notification.key, Notification.id
    )
    notification_ids: dict[str, int] = {key: id_ for key, id_ in new_notifications}
    if len(notification_ids) < len(keys):  # planned before (a retry): the others exist
        notification_ids |= await _notification_ids(
            session, [key for key in keys if key not in notification_ids]
        )
    delivery_rows = _delivery_rows(event, recipients, groups, notification_ids, now)
    new = await insert_new_rows(session, Delivery, delivery_rows, Delivery.id, Delivery.channel)
    new_feed_entries = sum(1 for _, channel in new if channel == Channel.FEED)
    if len(new) == len(delivery_rows):  # all new: the pending ones are those just written
        return EventPlan(
            sorted(delivery_id for delivery_id, channel in new if channel != Channel.FEED), new_feed_entries
        )
    pending = await session.scalars(
        select(Delivery.id)
        .where(
            Delivery.key.in_([row["key"] for row in delivery_rows]),
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
        )
        .order_by(Delivery.id)
    )
    return EventPlan(list(pending), new_feed_entries)


# --- the outcome of each send -------------------------------------------------------------------


DeliveryToSend: TypeAlias = "Row[Delivery, Notification, Subscription]"
"""A delivery with its feed entry and subscription (None when gone)."""


async def deliveries_to_send(session: AsyncSession, delivery_ids: list[int]) -> dict[int, DeliveryToSend]:
    """The deliveries with their feed entries and subscriptions (either may be gone), by id, in
    one query; unknown ids are missing."""
    rows = await session.execute(
        select(Delivery, Notification, Subscription)
        .outerjoin(Notification, Notification.id == Delivery.notification_id)
        .outerjoin(Subscription, Subscription.id == Delivery.subscription_id)
        .where(Delivery.id.in_(delivery_ids))
    )
    return {row[0].id: row for row in rows}


async def mark_sent(session: AsyncSession, delivery_id: int, now: datetime) -> None:
    """The send succeeded: sent, one more attempt (a delivery sent meanwhile stays as it is)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.SENT)
        .values(status=DeliveryStatus.SENT, sent_at=now, attempts=Delivery.attempts + 1)
    )


async def record_failed_attempt(session: AsyncSession, delivery_id: int, error: str) -> None:
    """A failed attempt: retrying, one more attempt, its error kept (a sent delivery stays sent)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.SENT)
        .values(
            status=DeliveryStatus.RETRYING, attempts=Delivery.attempts + 1, last_error=error[:ERROR_LIMIT]
        )
    )


async def mark_failed(session: AsyncSession, delivery_id: int, error: str) -> None:
    """After the last attempt: status failed with the error (a sent delivery stays sent)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.SENT)
        .values(status=DeliveryStatus.FAILED, last_error=error[:ERROR_LIMIT])
    )


async def count_webhook_failure(
    session: AsyncSession, subscription_id: int, limit: int, error: str
) -> str | None:
    """Count a failed webhook attempt; at `limit` in a row the subscription is switched off (its
    owner switches it on again) and the reason is returned."""
    failures = await session.scalar(
        update(Subscription)
        .where(Subscription.id == subscription_id)
        .values(consecutive_failures=Subscription.consecutive_failures + 1)
        .returning(Subscription.consecutive_failures)
    )
    if failures is None or failures < limit:
        return None
    reason = f"switched off after {failures} failed deliveries in a row; last: {error}"[:2000]
    await session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id)
        .values(active=False, disabled_reason=reason)
    )
    return reason


async def reset_webhook_failures(session: AsyncSession, subscription_id: int) -> None:
    """A webhook answered: its streak of failures starts again from zero."""
    await session.execute(
        update(Subscription).where(Subscription.id == subscription_id).values(consecutive_failures=0)
    )
