"""Queries and writes of subscriptions, the feed, the delivery log, the caller's own notification
settings (/me) and the one-click links of reminders (the routes stay thin)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, Forbidden, NotFound
from core.settings import Settings
from models import (
    ActionToken,
    Activity,
    Body,
    BodyKind,
    Channel,
    Convention,
    Delivery,
    DeliveryStatus,
    Notification,
    Person,
    Role,
    Subscription,
    person_conventions,
)
from services.notification_messages import ActionLink
from services.pagination import PageParams, Slice, Sorting, paginate
from services.webhooks import new_secret, resolve_webhook_target

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


WEBHOOK_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})


async def _check_channel(settings: Settings, channel: Channel, url: str | None, role: Role) -> None:
    if channel is Channel.WEBHOOK:
        if role not in WEBHOOK_ROLES:
            raise Forbidden("only coordinators and admins may register or change webhooks")
        if not url:
            raise InvalidSubscription("a webhook subscription needs webhook_url")
        await resolve_webhook_target(url, allow_loopback=settings.webhook_allow_loopback_targets)
    elif url is not None:
        raise InvalidSubscription(f"webhook_url is only for channel=webhook, not {channel.value}")


async def list_subscriptions(session: AsyncSession, person_id: int | None) -> list[Subscription]:
    statement = select(Subscription).order_by(Subscription.id)
    if person_id is not None:
        statement = statement.where(Subscription.person_id == person_id)
    return list(await session.scalars(statement))


async def create_subscription(
    session: AsyncSession, settings: Settings, person_id: int, values: dict[str, Any], actor_role: Role
) -> tuple[Subscription, str | None]:
    """The new subscription (`values`: its validated fields) and, for a webhook, its secret
    (returned to the caller this once). Only coordinators and admins (`actor_role`) may register
    webhooks."""
    if await session.get(Person, person_id) is None:
        raise NotFound(f"person {person_id} does not exist")
    await _check_filters(session, values)
    channel = Channel(values["channel"])
    await _check_channel(settings, channel, values.get("webhook_url"), actor_role)
    secret: str | None = None
    if channel is Channel.WEBHOOK:
        secret = values.get("webhook_secret") or new_secret()
    elif values.get("webhook_secret") is not None:
        raise InvalidSubscription("webhook_secret is only for channel=webhook")
    stage = values.get("stage")
    values = {
        **values,
        "person_id": person_id,
        "webhook_secret": secret,
        "stage": stage.value if stage else None,
    }
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
    session: AsyncSession,
    settings: Settings,
    subscription: Subscription,
    changes: dict[str, Any],
    actor_role: Role,
) -> Subscription:
    """`changes`: the fields the caller sent (unset ones absent)."""
    values = dict(changes)
    if "stage" in values and values["stage"] is not None:
        values["stage"] = values["stage"].value
    if values.get("event_type", "") is None:
        values["event_type"] = "*"
    if values.get("active", "") is None:
        del values["active"]
    await _check_filters(session, values)
    if "webhook_url" in values:
        await _check_channel(settings, subscription.channel, values["webhook_url"], actor_role)
    if values.get("active") and not subscription.active:  # switched on again: a fresh count
        values.update(consecutive_failures=0, disabled_reason=None)
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
) -> tuple[Slice[Notification], int]:
    """One page of the feed, and how many of all the person's notifications are unread."""
    notes = await paginate(session, _feed(person_id, unread), NOTIFICATION_SORTING, page)
    unread_count = await session.scalar(select(func.count()).select_from(_feed(person_id, True).subquery()))
    return notes, int(unread_count or 0)


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


@dataclass(frozen=True)
class DeliveryView:
    """A delivery as one viewer may see it: another person's webhook URL is hidden from non-admins."""

    delivery: Delivery
    key: str
    target: str
    last_error: str | None


def _hide(text: str | None, url: str) -> str | None:
    if text is None:
        return None
    host = urlsplit(url).hostname or url
    return text.replace(url, "[hidden]").replace(host, "[hidden]")


async def list_deliveries(
    session: AsyncSession,
    *,
    viewer_id: int,
    viewer_is_admin: bool,
    status: DeliveryStatus | None,
    channel: Channel | None,
    notification_id: int | None,
    page: PageParams,
) -> Slice[DeliveryView]:
    statement = select(Delivery)
    if status is not None:
        statement = statement.where(Delivery.status == status)
    if channel is not None:
        statement = statement.where(Delivery.channel == channel)
    if notification_id is not None:
        statement = statement.where(Delivery.notification_id == notification_id)
    found = await paginate(session, statement, DELIVERY_SORTING, page)
    rows: list[Delivery] = found.rows
    webhook_subscriptions = {row.subscription_id for row in rows if row.channel is Channel.WEBHOOK}
    owners: dict[int | None, int] = dict(
        (
            await session.execute(
                select(Subscription.id, Subscription.person_id).where(
                    Subscription.id.in_([i for i in webhook_subscriptions if i is not None])
                )
            )
        ).all()
    )
    views = []
    for row in rows:
        hidden = (
            row.channel is Channel.WEBHOOK
            and not viewer_is_admin
            and owners.get(row.subscription_id) != viewer_id
        )
        if hidden:
            marker = f"/{Channel.WEBHOOK.value}/"  # delivery keys are {event}/webhook/{url}
            key = row.key[: row.key.index(marker)] + marker + "[hidden]" if marker in row.key else "[hidden]"
            views.append(
                DeliveryView(
                    row, key, "webhook of another person [hidden]", _hide(row.last_error, row.target)
                )
            )
        else:
            views.append(DeliveryView(row, row.key, row.target, row.last_error))
    return Slice(views, found.next_cursor, found.prev_cursor, found.total)


# --- me -----------------------------------------------------------------------------------------


DIGEST_CHOICES = ("off", "daily", "weekly")


def digest_of(person: Person) -> str:
    """The person's choice in one word: off (e-mails one by one), daily or weekly."""
    if not person.daily_digest:
        return "off"
    return "weekly" if person.digest_weekly else "daily"


async def my_conventions(session: AsyncSession, person_id: int) -> list[str]:
    rows = await session.scalars(
        select(person_conventions.c.convention_code)
        .where(person_conventions.c.person_id == person_id)
        .order_by(person_conventions.c.convention_code)
    )
    return list(rows)


async def update_me(session: AsyncSession, person_id: int, changes: dict[str, Any]) -> Person:
    """The caller's own notification settings: digest (off/daily/weekly; `daily_digest` is the
    older yes/no form), mail about their own changes, the conventions they work on."""
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    if changes.get("digest") is not None:
        person.daily_digest = changes["digest"] != "off"
        person.digest_weekly = changes["digest"] == "weekly"
    elif changes.get("daily_digest") is not None:
        person.daily_digest = changes["daily_digest"]
    if changes.get("notify_own_changes") is not None:
        person.notify_own_changes = changes["notify_own_changes"]
    if changes.get("conventions") is not None:
        codes = sorted(set(changes["conventions"]))
        known = set(await session.scalars(select(Convention.code).where(Convention.code.in_(codes))))
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise InvalidSubscription(f"conventions: {', '.join(unknown)} not known", field="conventions")
        await session.execute(delete(person_conventions).where(person_conventions.c.person_id == person_id))
        if codes:
            await session.execute(
                insert(person_conventions), [{"person_id": person_id, "convention_code": c} for c in codes]
            )
    await session.flush()
    return person


# --- one-click links in reminders ---------------------------------------------------------------

ACTIONS = ("acknowledge", "snooze")


class ActionLinkGone(DomainError):
    status, code = 410, "action_link_gone"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_action_links(
    session: AsyncSession, settings: Settings, person_id: int, activity_id: int, now: datetime
) -> tuple[ActionLink, ...]:
    """Acknowledge and snooze links for one reminder mail: random tokens, stored hashed, usable once
    by `person_id` until `settings.action_link_days` from now."""
    base = settings.public_url.rstrip("/")
    links = []
    for action in ACTIONS:
        token = secrets.token_urlsafe(32)
        session.add(
            ActionToken(
                token_hash=_token_hash(token),
                person_id=person_id,
                activity_id=activity_id,
                action=action,
                snooze_days=settings.reminder_snooze_days if action == "snooze" else None,
                created_at=now,
                expires_at=now + timedelta(days=settings.action_link_days),
            )
        )
        label = "Acknowledge" if action == "acknowledge" else f"Snooze {settings.reminder_snooze_days} days"
        links.append(ActionLink(label, f"{base}/notifications/actions/{token}"))
    await session.flush()
    return tuple(links)


@dataclass(frozen=True)
class PendingAction:
    token: ActionToken
    person: Person
    activity: Activity

    @property
    def description(self) -> str:
        if self.token.action == "snooze":
            return f"Snooze the reminders about this activity for {self.token.snooze_days} days"
        return "Acknowledge the reminder about this activity"

    def snooze_until(self, today: date) -> date:
        return today + timedelta(days=self.token.snooze_days or 1)


async def pending_action(session: AsyncSession, token: str, now: datetime) -> PendingAction:
    """The action a link stands for; `ActionLinkGone` (410) once used or expired, 404 if unknown."""
    row = await session.scalar(select(ActionToken).where(ActionToken.token_hash == _token_hash(token)))
    if row is None:
        raise NotFound("this link is not known; use the newest reminder or the tracker itself")
    if row.used_at is not None:
        raise ActionLinkGone("this link was already used; each link works once")
    if row.expires_at <= now:
        raise ActionLinkGone("this link has expired; use the newest reminder or the tracker itself")
    person = await session.get(Person, row.person_id)
    activity = await session.get(Activity, row.activity_id)
    if person is None or not person.active or activity is None:
        raise ActionLinkGone("this link no longer applies")
    return PendingAction(row, person, activity)


async def claim_action(session: AsyncSession, action: PendingAction, now: datetime) -> None:
    """Mark the link used, if nobody used it in the meantime (one wins of two concurrent POSTs)."""
    result = await session.execute(
        update(ActionToken)
        .where(ActionToken.id == action.token.id, ActionToken.used_at.is_(None), ActionToken.expires_at > now)
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ActionLinkGone("this link was already used; each link works once")


async def release_action(session: AsyncSession, action: PendingAction) -> None:
    """The action failed (e.g. the activity was closed meanwhile): the link stays usable."""
    await session.execute(update(ActionToken).where(ActionToken.id == action.token.id).values(used_at=None))
