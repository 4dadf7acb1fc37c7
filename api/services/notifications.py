"""Queries and writes of subscriptions, the feed and the delivery log (the routes stay thin)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import DomainError, NotFound
from api.pagination import PageParams, Sorting, paginate
from api.services.webhooks import validate_webhook_url
from api.settings import Settings
from models import (
    Body,
    BodyKind,
    Channel,
    Convention,
    Delivery,
    DeliveryStatus,
    Notification,
    Person,
    Subscription,
)

if TYPE_CHECKING:
    from api.routes.notification_schemas import SubscriptionCreate, SubscriptionUpdate

# Newest first by id (ids follow insertion, i.e. created_at): the cursor then holds no datetime.
NOTIFICATION_SORTING = Sorting({"id": Notification.id}, default="-id", tiebreak=Notification.id)
DELIVERY_SORTING = Sorting(
    {"id": Delivery.id, "attempts": Delivery.attempts}, default="-id", tiebreak=Delivery.id
)


class InvalidSubscription(DomainError):
    status, code = 422, "invalid_subscription"


# --- subscriptions ------------------------------------------------------------------------------


async def _check_filters(session: AsyncSession, values: dict[str, Any]) -> None:
    code = values.get("convention_code")
    if code is not None and await session.get(Convention, code) is None:
        raise InvalidSubscription(f"convention_code {code!r} is not a known convention")
    group_id = values.get("thematic_group_id")
    if group_id is not None:
        body = await session.get(Body, group_id)
        if body is None or body.kind is not BodyKind.THEMATIC_GROUP:
            raise InvalidSubscription(f"thematic_group_id {group_id} is not a thematic group")


async def _check_channel(settings: Settings, channel: Channel, url: str | None) -> None:
    if channel is Channel.WEBHOOK:
        if not url:
            raise InvalidSubscription("a webhook subscription needs webhook_url")
        await validate_webhook_url(url, allow_private=settings.webhook_allow_private_targets)
    elif url is not None:
        raise InvalidSubscription(f"webhook_url is only for channel=webhook, not {channel.value}")


async def list_subscriptions(session: AsyncSession, person_id: int | None) -> list[Subscription]:
    statement = select(Subscription).order_by(Subscription.id)
    if person_id is not None:
        statement = statement.where(Subscription.person_id == person_id)
    return list(await session.scalars(statement))


async def create_subscription(
    session: AsyncSession, settings: Settings, person_id: int, data: SubscriptionCreate
) -> tuple[Subscription, str | None]:
    """The new subscription and, for a webhook, its secret (returned to the caller this once)."""
    if await session.get(Person, person_id) is None:
        raise NotFound(f"person {person_id} does not exist")
    values = data.model_dump()
    await _check_filters(session, values)
    await _check_channel(settings, data.channel, data.webhook_url)
    secret: str | None = None
    if data.channel is Channel.WEBHOOK:
        secret = data.webhook_secret or secrets.token_urlsafe(32)
    elif data.webhook_secret is not None:
        raise InvalidSubscription("webhook_secret is only for channel=webhook")
    values.update(person_id=person_id, webhook_secret=secret, stage=data.stage.value if data.stage else None)
    subscription = Subscription(**values)
    session.add(subscription)
    await session.flush()
    await session.refresh(subscription)
    return subscription, secret


async def get_subscription(
    session: AsyncSession, subscription_id: int, person_id: int | None
) -> Subscription:
    """`person_id` None: any person's (admins); otherwise 404 unless it is theirs."""
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None or (person_id is not None and subscription.person_id != person_id):
        raise NotFound(f"subscription {subscription_id} does not exist")
    return subscription


async def update_subscription(
    session: AsyncSession, settings: Settings, subscription: Subscription, data: SubscriptionUpdate
) -> Subscription:
    values = data.model_dump(exclude_unset=True)
    if "stage" in values and values["stage"] is not None:
        values["stage"] = values["stage"].value
    if values.get("event_type", "") is None:
        values["event_type"] = "*"
    if values.get("active", "") is None:
        del values["active"]
    await _check_filters(session, values)
    if "webhook_url" in values:
        await _check_channel(settings, subscription.channel, values["webhook_url"])
    if "webhook_secret" in values:
        if subscription.channel is not Channel.WEBHOOK:
            raise InvalidSubscription("webhook_secret is only for channel=webhook")
        if values["webhook_secret"] is None:
            del values["webhook_secret"]  # a webhook always keeps a secret
    for name, value in values.items():
        setattr(subscription, name, value)
    await session.flush()
    await session.refresh(subscription)
    return subscription


async def delete_subscription(session: AsyncSession, subscription: Subscription) -> None:
    await session.delete(subscription)
    await session.flush()


# --- the feed -----------------------------------------------------------------------------------


def _feed(person_id: int, unread: bool) -> Select[Any]:
    statement = select(Notification).where(Notification.person_id == person_id)
    if unread:
        statement = statement.where(Notification.read_at.is_(None))
    return statement


async def list_notifications(
    session: AsyncSession, person_id: int, *, unread: bool, page: PageParams
) -> tuple[list[Notification], str | None, int]:
    rows, cursor = await paginate(session, _feed(person_id, unread), NOTIFICATION_SORTING, page)
    unread_count = await session.scalar(select(func.count()).select_from(_feed(person_id, True).subquery()))
    return rows, cursor, int(unread_count or 0)


async def mark_read(session: AsyncSession, person_id: int, notification_id: int) -> Notification:
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.person_id != person_id:
        raise NotFound(f"notification {notification_id} does not exist")
    if notification.read_at is None:  # the first read stays the read time
        notification.read_at = datetime.now(UTC)
        await session.flush()
    return notification


async def mark_all_read(session: AsyncSession, person_id: int) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.person_id == person_id, Notification.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- the delivery log ---------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    *,
    status: DeliveryStatus | None,
    channel: Channel | None,
    notification_id: int | None,
    page: PageParams,
) -> tuple[list[Delivery], str | None]:
    statement = select(Delivery)
    if status is not None:
        statement = statement.where(Delivery.status == status)
    if channel is not None:
        statement = statement.where(Delivery.channel == channel)
    if notification_id is not None:
        statement = statement.where(Delivery.notification_id == notification_id)
    return await paginate(session, statement, DELIVERY_SORTING, page)


# --- me -----------------------------------------------------------------------------------------


async def set_daily_digest(session: AsyncSession, person_id: int, daily_digest: bool) -> Person:
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    person.daily_digest = daily_digest
    await session.flush()
    return person
