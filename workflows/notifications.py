"""Notification activities: who hears of an event, and the sends themselves (e-mail, webhook, feed).

A workflow hands a `NotificationEvent` to `notify` (with `DELIVERY_RETRY_POLICY`), which plans
it (`plan_deliveries`: one feed entry (`Notification`) per person and one `Delivery` per (channel,
target), keyed on the event key so that a retried activity writes nothing twice) and sends the
deliveries still unsent. After the last attempt the workflow calls `mark_event_failed`. A delivery
is marked sent only after the send succeeded.

Recipients: every person of the event's audiences (coordinators group / joint management group
members, the activity's lead, its watchers) plus every active subscription matching the event.
An audience member without a matching subscription gets e-mail + feed; a subscriber gets the
feed entry plus the channels of their matching subscriptions. Persons with `daily_digest` get their
e-mail in the daily digest (`send_daily_digest`) instead. The group addresses
(settings.coordinators_group_email, settings.management_group_email) get one e-mail per event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from api.metrics import DELIVERIES, DELIVERY_FAILURES
from api.services.webhooks import WebhookTargetRejected, sign_webhook, validate_webhook_url
from api.settings import Settings
from models import (
    Activity,
    Body,
    BodyKind,
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    Person,
    Subscription,
    body_members,
)
from models.sql import upsert_insert
from workflows.events import Audience, NotificationEvent

DELIVERY_REJECTED = "DeliveryRejected"
"""Error type of failures that no retry can fix (target refused by policy, subscription gone)."""

DELIVERY_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=30,
    non_retryable_error_types=[DELIVERY_REJECTED],
)
"""For `deliver`: about 3.5 days of attempts (5 s doubling to 10 min, then every 10 min)."""

# A send is bounded by the SMTP/webhook timeouts (<= 30 s): a send lost with a crashed worker
# is retried after this, not after minutes.
DELIVER_TIMEOUT = timedelta(seconds=35)
DIGEST_TIMEOUT = timedelta(minutes=30)

KEY_LIMIT = 300  # Delivery.key / Notification.key column length
DIGEST_FLAG = "digest"


class DeliveryRejected(Exception):
    """A send that must not be retried."""


@dataclass
class _Recipient:
    person: Person
    channels: dict[tuple[Channel, str], int | None] = field(default_factory=dict)  # -> subscription


def _key(*parts: str) -> str:
    key = "/".join(parts)
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: KEY_LIMIT - 72]}/sha256:{digest}"


def delivery_key(event_key: str, channel: Channel, target: str) -> str:
    return _key(event_key, channel.value, target)


def notification_key(event_key: str, person_id: int) -> str:
    return _key(event_key, f"p{person_id}")


def event_payload(event: NotificationEvent) -> dict[str, Any]:
    """The event as JSON-safe data (stored on the notification, sent in webhook bodies)."""
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
        "link": event.link,
        "data": dict(event.data),
    }


async def _insert_ignore(
    session: AsyncSession, model: type[Any], rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING; returns the `returning` columns of the new rows only."""
    if not rows:
        return []
    statement = upsert_insert(session.get_bind().dialect.name)(model).values(rows)
    statement = statement.on_conflict_do_nothing()
    statement = statement.returning(*(returning or (model.id,)))
    return list((await session.execute(statement)).all())


def _matching_subscriptions(
    event: NotificationEvent, conventions: Sequence[str]
) -> Select[Subscription, Person]:
    return (
        select(Subscription, Person)
        .join(Person, Person.id == Subscription.person_id)
        .where(
            Subscription.active.is_(True),
            Person.active.is_(True),
            Subscription.event_type.in_(["*", event.type.value]),
            or_(
                Subscription.convention_code.is_(None),
                Subscription.convention_code.in_(conventions),
            ),
            or_(
                Subscription.thematic_group_id.is_(None),
                Subscription.thematic_group_id == event.thematic_group_id,
            ),
            or_(Subscription.stage.is_(None), Subscription.stage == event.stage),
        )
        .order_by(Subscription.id)
    )


def _email_message(settings: Settings, to: str, subject: str, text: str, key: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@synergies-tracker>"
    message["X-Synergies-Delivery"] = key
    message.set_content(text)
    return message


def _notification_text(notification: Notification) -> str:
    lines = [notification.body]
    link = (notification.payload or {}).get("link")
    if link:
        lines += ["", str(link)]
    return "\n".join(lines)


class NotificationActivities:
    """Temporal activities of the notification service, built with their clients."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.http = http

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for `Worker(activities=...)`."""
        return [
            self.notify,
            self.mark_event_failed,
            self.send_daily_digest,
            # what workflows begun before `notify` replay
            self.plan_deliveries,
            self.deliver,
            self.deliver_batch,
            self.mark_delivery_failed,
        ]

    # --- planning -------------------------------------------------------------------------------

    @activity.defn
    async def plan_deliveries(self, event: NotificationEvent) -> list[int]:
        """Write the feed entries and deliveries of `event` once; return the ids still to send."""
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            recipients, groups = await self._recipients(session, event)
            payload = event_payload(event)

            notification_rows: list[dict[str, Any]] = []
            for person_id, recipient in recipients.items():
                digest = recipient.person.daily_digest and any(
                    channel is Channel.EMAIL for channel, _ in recipient.channels
                )
                notification_rows.append(
                    self._notification_row(
                        event,
                        notification_key(event.key, person_id),
                        person_id,
                        {**payload, DIGEST_FLAG: digest},
                        now,
                    )
                )
            for audience, _address in groups:
                notification_rows.append(
                    self._notification_row(event, _key(event.key, audience.value), None, payload, now)
                )
            await _insert_ignore(session, Notification, notification_rows)
            keys = [row["key"] for row in notification_rows]
            ids = (
                dict(
                    (
                        await session.execute(
                            select(Notification.key, Notification.id).where(Notification.key.in_(keys))
                        )
                    ).all()
                )
                if keys
                else {}
            )

            delivery_rows: dict[str, dict[str, Any]] = {}

            def add(notification_id: int, channel: Channel, target: str, subscription_id: int | None) -> None:
                key = delivery_key(event.key, channel, target)
                sent = channel is Channel.FEED  # the feed entry exists once this commits
                delivery_rows.setdefault(
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
                notification_id = ids[notification_key(event.key, person_id)]
                add(notification_id, Channel.FEED, f"person:{person_id}", None)
                for (channel, target), subscription_id in recipient.channels.items():
                    if channel is Channel.EMAIL and recipient.person.daily_digest:
                        continue  # goes into the daily digest
                    add(notification_id, channel, target, subscription_id)
            for audience, address in groups:
                add(ids[_key(event.key, audience.value)], Channel.EMAIL, address, None)

            rows = list(delivery_rows.values())
            new = await _insert_ignore(session, Delivery, rows, Delivery.channel)
            if not rows:
                return []
            pending = await session.scalars(
                select(Delivery.id)
                .where(
                    Delivery.key.in_(list(delivery_rows)),
                    Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.RETRYING]),
                )
                .order_by(Delivery.id)
            )
            result = list(pending)
        feed_entries = sum(1 for (channel,) in new if channel == Channel.FEED)
        if feed_entries:  # the feed entries were delivered by this commit
            DELIVERIES.labels(channel=Channel.FEED.value).inc(feed_entries)
        activity.logger.info("event %s: %d deliveries to send", event.key, len(result))
        return result

    @staticmethod
    def _notification_row(
        event: NotificationEvent,
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
            "title": event.title[:300],
            "body": event.body,
            "payload": payload,
            "created_at": now,
        }

    async def _recipients(
        self, session: AsyncSession, event: NotificationEvent
    ) -> tuple[dict[int, _Recipient], list[tuple[Audience, str]]]:
        recipients: dict[int, _Recipient] = {}
        audience_members: dict[int, Person] = {}
        groups: list[tuple[Audience, str]] = []

        conventions: list[str] = list(event.conventions)
        activity_row: Activity | None = None
        if event.activity_id is not None:
            activity_row = await session.get(Activity, event.activity_id)
            if activity_row is not None and not conventions:
                conventions = activity_row.convention_codes

        group_addresses = {
            Audience.COORDINATORS: (
                BodyKind.COORDINATORS_GROUP,
                self.settings.coordinators_group_email,
            ),
            Audience.MANAGEMENT: (
                BodyKind.JOINT_MANAGEMENT_GROUP,
                self.settings.management_group_email,
            ),
        }
        for audience in dict.fromkeys(event.audiences):
            if audience in group_addresses:
                kind, address = group_addresses[audience]
                members = await session.scalars(
                    select(Person)
                    .join(body_members, body_members.c.person_id == Person.id)
                    .join(Body, Body.id == body_members.c.body_id)
                    .where(Body.kind == kind, Person.active.is_(True))
                    .order_by(Person.id)
                )
                for person in members.unique():
                    audience_members[person.id] = person
                if address:
                    groups.append((audience, address))
            elif audience is Audience.LEAD and activity_row is not None and activity_row.lead_id:
                lead = await session.get(Person, activity_row.lead_id)
                if lead is not None and lead.active:
                    audience_members[lead.id] = lead
            elif audience is Audience.WATCHERS and activity_row is not None:
                for person in activity_row.watchers:
                    if person.active:
                        audience_members[person.id] = person

        for subscription, person in await session.execute(_matching_subscriptions(event, conventions)):
            recipient = recipients.setdefault(person.id, _Recipient(person))
            if subscription.channel is Channel.WEBHOOK:
                if subscription.webhook_url:
                    recipient.channels.setdefault(
                        (Channel.WEBHOOK, subscription.webhook_url), subscription.id
                    )
            elif subscription.channel is Channel.EMAIL:
                recipient.channels.setdefault((Channel.EMAIL, person.email), subscription.id)
            # FEED: every recipient gets the feed entry anyway

        for person_id, person in audience_members.items():
            if person_id not in recipients:  # no matching subscription: the default channels
                recipients[person_id] = _Recipient(person, {(Channel.EMAIL, person.email): None})
        return recipients, groups

    # --- sending --------------------------------------------------------------------------------

    @activity.defn
    async def deliver(self, delivery_id: int) -> str:
        """Send one delivery. Returns "sent", or "already_sent" (nothing is sent twice).

        Every failed attempt increments `attempts`, records `last_error` and re-raises, so Temporal
        retries with backoff; refusals no retry can fix raise a non-retryable `DeliveryRejected`.
        """
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    select(Delivery, Notification, Subscription)
                    .outerjoin(Notification, Notification.id == Delivery.notification_id)
                    .outerjoin(Subscription, Subscription.id == Delivery.subscription_id)
                    .where(Delivery.id == delivery_id)
                )
            ).first()
        if row is None:
            raise ApplicationError(
                f"delivery {delivery_id} does not exist", type=DELIVERY_REJECTED, non_retryable=True
            )
        delivery, notification, subscription = row
        if delivery.status is DeliveryStatus.SENT:
            return "already_sent"
        try:
            if notification is None:
                raise DeliveryRejected("the notification of this delivery no longer exists")
            if delivery.channel is Channel.EMAIL:
                await self._send_email(
                    delivery.target,
                    notification.title,
                    _notification_text(notification),
                    delivery.key,
                )
            elif delivery.channel is Channel.WEBHOOK:
                await self._send_webhook(delivery, notification, subscription)
            # FEED: the feed entry is the notification row itself
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            await self._record_failure(delivery_id, error)
            DELIVERY_FAILURES.labels(channel=delivery.channel.value).inc()
            activity.logger.warning("delivery %s failed: %s", delivery.key, error)
            if isinstance(exc, DeliveryRejected | WebhookTargetRejected):
                raise ApplicationError(error, type=DELIVERY_REJECTED, non_retryable=True) from exc
            raise
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.SENT)
                .values(
                    status=DeliveryStatus.SENT,
                    sent_at=datetime.now(UTC),
                    attempts=Delivery.attempts + 1,
                )
            )
        DELIVERIES.labels(channel=delivery.channel.value).inc()
        return "sent"

    @activity.defn
    async def notify(self, event: NotificationEvent) -> int:
        """Plan and send an event's deliveries in one activity: one workflow round trip per event.
        A retry plans again (idempotent: nothing is written twice) and sends only what is still
        unsent. Returns how many were sent by this attempt."""
        return await self.deliver_batch(await self.plan_deliveries(event))

    @activity.defn
    async def mark_event_failed(self, event: NotificationEvent, error: str) -> None:
        """After `notify`'s last attempt: the deliveries still unsent are failed, never sent."""
        for delivery_id in await self.plan_deliveries(event):
            await self.mark_delivery_failed(delivery_id, error)

    @activity.defn
    async def deliver_batch(self, delivery_ids: list[int]) -> int:
        """Send all deliveries of one event in one activity: a workflow round trip per event, not
        per recipient. A retry sends only what is still unsent; a refusal no retry can fix is
        marked failed at once. Returns how many were sent by this attempt."""
        results = await asyncio.gather(
            *(self.deliver(delivery_id) for delivery_id in delivery_ids), return_exceptions=True
        )
        failed = []
        for delivery_id, result in zip(delivery_ids, results, strict=True):
            if isinstance(result, ApplicationError) and result.non_retryable:
                await self.mark_delivery_failed(delivery_id, str(result))
            elif isinstance(result, BaseException):
                failed.append(f"delivery {delivery_id}: {result}")
        if failed:
            raise ApplicationError(
                f"{len(failed)} of {len(delivery_ids)} deliveries failed: " + "; ".join(failed)[:2000]
            )
        return sum(1 for result in results if result == "sent")

    async def _record_failure(self, delivery_id: int, error: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.SENT)
                .values(
                    status=DeliveryStatus.RETRYING,
                    attempts=Delivery.attempts + 1,
                    last_error=error[:4000],
                )
            )

    async def _send_email(self, to: str, subject: str, text: str, key: str) -> None:
        settings = self.settings
        await aiosmtplib.send(
            _email_message(settings, to, subject, text, key),
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=30,
        )

    async def _send_webhook(
        self, delivery: Delivery, notification: Notification, subscription: Subscription | None
    ) -> None:
        if subscription is None or not subscription.webhook_secret:
            raise DeliveryRejected("the subscription of this webhook was deleted; nothing to sign with")
        if not subscription.active:
            raise DeliveryRejected("the subscription of this webhook was deactivated")
        await validate_webhook_url(delivery.target, allow_private=self.settings.webhook_allow_private_targets)
        payload = {key: value for key, value in (notification.payload or {}).items() if key != DIGEST_FLAG}
        body = json.dumps(
            {"delivery": delivery.key, "event": payload, "notification_id": notification.id},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        timestamp = str(int(time.time()))
        response = await self.http.post(
            delivery.target,
            content=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "synergies-tracker-webhooks",
                "X-Synergies-Event": notification.event_type,
                "X-Synergies-Delivery": delivery.key,
                "X-Synergies-Timestamp": timestamp,
                "X-Synergies-Signature": sign_webhook(subscription.webhook_secret, timestamp, body),
            },
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,
        )
        if not response.is_success:
            raise RuntimeError(f"webhook answered HTTP {response.status_code}")

    @activity.defn
    async def mark_delivery_failed(self, delivery_id: int, error: str) -> None:
        """After the last attempt: status failed with the error (a sent delivery stays sent)."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.SENT)
                .values(status=DeliveryStatus.FAILED, last_error=error[:4000])
            )

    # --- daily digest ---------------------------------------------------------------------------

    @activity.defn
    async def send_daily_digest(self, day: str) -> int:
        """One e-mail per digest reader listing their undigested notifications; returns mails sent.

        Idempotent per person and day (Delivery key `digest/{day}/p{id}`); a person whose mail
        failed does not stop the others, and the activity raises at the end so Temporal retries.
        """
        date.fromisoformat(day)  # reject garbage early
        async with self.sessionmaker() as session:
            persons = list(
                await session.scalars(
                    select(Person)
                    .where(
                        Person.active.is_(True),
                        or_(
                            Person.daily_digest.is_(True),
                            Person.id.in_(select(Notification.person_id).where(*self._undigested())),
                        ),
                    )
                    .order_by(Person.id)
                )
            )
        sent, errors = 0, []
        for person in persons:
            try:
                sent += await self._digest_for(person, day)
            except Exception as exc:
                errors.append(f"{person.email}: {type(exc).__name__}: {exc}")
        if errors:
            raise RuntimeError(f"{len(errors)} digest mail(s) failed: " + "; ".join(errors))
        return sent

    @staticmethod
    def _undigested() -> list[Any]:
        return [
            Notification.digested_at.is_(None),
            Notification.payload[DIGEST_FLAG].as_boolean().is_(True),
        ]

    async def _digest_for(self, person: Person, day: str) -> int:
        key = f"digest/{day}/p{person.id}"
        async with self.sessionmaker() as session, session.begin():
            delivery = await session.scalar(select(Delivery).where(Delivery.key == key))
            if delivery is not None and delivery.status is DeliveryStatus.SENT:
                return 0
            entries = list(
                await session.scalars(
                    select(Notification)
                    .where(Notification.person_id == person.id, *self._undigested())
                    .order_by(Notification.created_at, Notification.id)
                )
            )
            if not entries:
                return 0
            await _insert_ignore(
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
        lines = [f"Synergies Tracker: {len(entries)} notification(s) for {person.name}, {day}", ""]
        for entry in entries:
            lines.append(f"- {entry.created_at:%Y-%m-%d %H:%M} UTC  {entry.title}")
            lines += [f"  {line}" for line in _notification_text(entry).splitlines()]
            lines.append("")
        subject = f"Synergies Tracker daily digest, {day}: {len(entries)} notification(s)"
        try:
            await self._send_email(person.email, subject, "\n".join(lines), key)
        except Exception as exc:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(
                    update(Delivery)
                    .where(Delivery.key == key, Delivery.status != DeliveryStatus.SENT)
                    .values(
                        status=DeliveryStatus.RETRYING,
                        attempts=Delivery.attempts + 1,
                        last_error=f"{type(exc).__name__}: {exc}"[:4000],
                    )
                )
            DELIVERY_FAILURES.labels(channel=Channel.EMAIL.value).inc()
            raise
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.key == key)
                .values(status=DeliveryStatus.SENT, sent_at=now, attempts=Delivery.attempts + 1)
            )
            await session.execute(
                update(Notification)
                .where(
                    and_(
                        Notification.id.in_([entry.id for entry in entries]),
                        Notification.digested_at.is_(None),
                    )
                )
                .values(digested_at=now)
            )
        DELIVERIES.labels(channel=Channel.EMAIL.value).inc()
        return 1
