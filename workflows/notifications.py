"""Notification activities: who hears of an event, and the sends themselves (e-mail, webhook, feed).

A workflow hands a `NotificationEvent` to `notify` (with `DELIVERY_RETRY_POLICY`), which plans
it (`plan_deliveries`: one feed entry (`Notification`) per person and one `Delivery` per (channel,
target), keyed on the event key so that a retried activity writes nothing twice) and sends the
deliveries still unsent. After the last attempt the workflow calls `mark_event_failed`. A delivery
is marked sent only after the send succeeded.

What is said is rendered here, not in the workflow: `build_message` reads the activity, its lead,
conventions, provisions and the transition from the database when the event is planned; the
subject becomes the feed entry's title, and each e-mail is rendered from the stored message when it
is sent (services/notification_messages.py, templates in services/templates/mail/).

Recipients: the audiences of the event (coordinators = active people with the coordinator role,
narrowed to their conventions when they have any; the joint management group's members; the
activity's lead; its watchers) plus every active subscription matching the event. An audience
member without a matching subscription gets e-mail + feed; a subscriber gets the feed entry plus the
channels of their matching subscriptions. Digest readers get their e-mail in the digest
(`send_daily_digest`) instead; nobody is mailed about their own change unless they asked
(`notify_own_changes`). The group addresses (settings.coordinators_group_email,
settings.management_group_email) get one e-mail per event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
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

from core.events import Audience, NotificationEvent
from core.metrics import DELIVERIES, DELIVERY_FAILURES
from core.settings import Settings
from core.stages import OPEN_STAGES
from models import (
    Activity,
    Body,
    BodyKind,
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    Person,
    Role,
    Subscription,
    activity_watchers,
    body_members,
    person_conventions,
)
from models.sql import upsert_insert
from services.notification_messages import (
    MESSAGE_VERSION,
    ActionLink,
    DigestEntry,
    Recipient,
    Rendered,
    Why,
    activity_url,
    build_message,
    email_message,
    render,
    render_digest,
    stage_name,
)
from services.notifications import create_action_links
from services.webhooks import (
    WebhookHostUnresolved,
    WebhookTargetRejected,
    resolve_webhook_target,
    sign_webhook,
)

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
DIGEST_DUE_WITHIN = timedelta(days=14)  # a digest lists the stages due within two weeks
REMINDER_KINDS = ("reminder", "overdue", "management")

# When someone is addressed for several reasons, the footer and the request name the strongest.
WHY_RANK = {Why.LEAD: 0, Why.MANAGEMENT: 1, Why.COORDINATOR: 2, Why.WATCHER: 3, Why.SUBSCRIBER: 4}
GROUP_WHY = {Audience.COORDINATORS: Why.COORDINATORS_GROUP, Audience.MANAGEMENT: Why.MANAGEMENT_GROUP}


class DeliveryRejected(Exception):
    """A send that must not be retried."""


@dataclass
class _Recipient:
    person: Person
    why: Why
    conventions: tuple[str, ...] = ()
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


def webhook_message_id(delivery_key: str) -> str:
    """`webhook-id`: the same for every attempt of one delivery, so receivers can drop repeats."""
    return "msg_" + hashlib.sha256(delivery_key.encode()).hexdigest()[:32]


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


def _matching_subscriptions(event: NotificationEvent, conventions: list[str]) -> Select[Subscription, Person]:
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


async def conventions_of(session: AsyncSession, person_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The conventions each person works on (none: all of them)."""
    rows = await session.execute(
        select(person_conventions.c.person_id, person_conventions.c.convention_code)
        .where(person_conventions.c.person_id.in_(person_ids))
        .order_by(person_conventions.c.convention_code)
    )
    result: dict[int, tuple[str, ...]] = {}
    for person_id, code in rows:
        result[person_id] = (*result.get(person_id, ()), code)
    return result


def _legacy_rendered(notification: Notification) -> Rendered:
    """A feed entry planned before messages were rendered from templates: its own title and body."""
    link = (notification.payload or {}).get("link")
    text = notification.body + (f"\n\n{link}\n" if link else "\n")
    return Rendered(notification.title, text, f"<p>{notification.body}</p>")


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
            message = await build_message(session, self.settings, event, now)
            recipients, groups = await self._recipients(session, event)
            payload = event_payload(event, message)
            actor_id = (message.get("actor") or {}).get("id")

            notification_rows: list[dict[str, Any]] = []
            for person_id, recipient in recipients.items():
                if person_id == actor_id and not recipient.person.notify_own_changes:
                    recipient.channels = {
                        target: sub
                        for target, sub in recipient.channels.items()
                        if target[0] is not Channel.EMAIL
                    }
                digest = recipient.person.daily_digest and any(
                    channel is Channel.EMAIL for channel, _ in recipient.channels
                )
                who: dict[str, Any] = {
                    "name": recipient.person.name,
                    "why": recipient.why.value,
                    "conventions": list(recipient.conventions),
                }
                notification_rows.append(
                    self._notification_row(
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
                notification_rows.append(
                    self._notification_row(
                        event,
                        message,
                        _key(event.key, audience.value),
                        None,
                        {**payload, "recipient": who},
                        now,
                    )
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
                        continue  # goes into the digest
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

    async def _recipients(
        self, session: AsyncSession, event: NotificationEvent
    ) -> tuple[dict[int, _Recipient], list[tuple[Audience, str]]]:
        audience_members: dict[int, _Recipient] = {}
        groups: list[tuple[Audience, str]] = []

        def add(person: Person, why: Why, conventions: tuple[str, ...] = ()) -> None:
            current = audience_members.get(person.id)
            if current is None or WHY_RANK[why] < WHY_RANK[current.why]:
                audience_members[person.id] = _Recipient(person, why, conventions)

        conventions: list[str] = list(event.conventions)
        activity_row: Activity | None = None
        if event.activity_id is not None:
            activity_row = await session.get(Activity, event.activity_id)
            if activity_row is not None and not conventions:
                conventions = activity_row.convention_codes

        for audience in dict.fromkeys(event.audiences):
            if audience is Audience.COORDINATORS:
                coordinators = list(
                    await session.scalars(
                        select(Person)
                        .where(Person.role == Role.COORDINATOR, Person.active.is_(True))
                        .order_by(Person.id)
                    )
                )
                theirs = await conventions_of(session, [person.id for person in coordinators])
                for person in coordinators:
                    codes = theirs.get(person.id, ())
                    if codes and conventions and not set(codes) & set(conventions):
                        continue  # a coordinator for other conventions
                    add(person, Why.COORDINATOR, codes)
                if self.settings.coordinators_group_email:
                    groups.append((audience, self.settings.coordinators_group_email))
            elif audience is Audience.MANAGEMENT:
                members = await session.scalars(
                    select(Person)
                    .join(body_members, body_members.c.person_id == Person.id)
                    .join(Body, Body.id == body_members.c.body_id)
                    .where(Body.kind == BodyKind.JOINT_MANAGEMENT_GROUP, Person.active.is_(True))
                    .order_by(Person.id)
                )
                for person in members.unique():
                    add(person, Why.MANAGEMENT)
                if self.settings.management_group_email:
                    groups.append((audience, self.settings.management_group_email))
            elif audience is Audience.LEAD and activity_row is not None and activity_row.lead_id:
                lead = await session.get(Person, activity_row.lead_id)
                if lead is not None and lead.active:
                    add(lead, Why.LEAD)
            elif audience is Audience.WATCHERS and activity_row is not None:
                watchers = await session.scalars(
                    select(Person)
                    .join(activity_watchers, activity_watchers.c.person_id == Person.id)
                    .where(activity_watchers.c.activity_id == activity_row.id, Person.active.is_(True))
                    .order_by(Person.id)
                )
                for person in watchers:
                    add(person, Why.WATCHER)

        recipients: dict[int, _Recipient] = {}
        for subscription, person in await session.execute(_matching_subscriptions(event, conventions)):
            member = audience_members.get(person.id)
            recipient = recipients.setdefault(
                person.id,
                _Recipient(
                    person, member.why if member else Why.SUBSCRIBER, member.conventions if member else ()
                ),
            )
            if subscription.channel is Channel.WEBHOOK:
                if subscription.webhook_url:
                    recipient.channels.setdefault(
                        (Channel.WEBHOOK, subscription.webhook_url), subscription.id
                    )
            elif subscription.channel is Channel.EMAIL:
                recipient.channels.setdefault((Channel.EMAIL, person.email), subscription.id)
            # FEED: every recipient gets the feed entry anyway

        for person_id, member in audience_members.items():
            if person_id not in recipients:  # no matching subscription: the default channels
                member.channels[(Channel.EMAIL, member.person.email)] = None
                recipients[person_id] = member
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
                await self._send_notification_email(delivery, notification)
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

    async def _send_email(self, message: EmailMessage) -> None:
        settings = self.settings
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=30,
        )

    async def _send_notification_email(self, delivery: Delivery, notification: Notification) -> None:
        """The message rendered for its recipient now; a reminder to the lead carries one-click
        acknowledge/snooze links (new single-use tokens for each attempt)."""
        payload = notification.payload or {}
        message = payload.get("message")
        activity_facts = (message or {}).get("activity") or {}
        if message is None:
            rendered = _legacy_rendered(notification)
        else:
            who = payload.get("recipient") or {}
            recipient = Recipient(
                who.get("name"), Why(who.get("why", Why.SUBSCRIBER)), tuple(who.get("conventions", ()))
            )
            actions: tuple[ActionLink, ...] = ()
            if (
                notification.person_id is not None
                and recipient.why is Why.LEAD
                and message["kind"] in REMINDER_KINDS
                and activity_facts
            ):
                async with self.sessionmaker() as session, session.begin():
                    actions = await create_action_links(
                        session,
                        self.settings,
                        notification.person_id,
                        activity_facts["id"],
                        datetime.now(UTC),
                    )
            rendered = render(message, recipient, self.settings, actions)
        await self._send_email(
            email_message(
                self.settings,
                rendered,
                to=delivery.target,
                key=delivery.key,
                activity_id=notification.activity_id,
                activity_title=activity_facts.get("title"),
                now=datetime.now(UTC),
            )
        )

    async def _send_webhook(
        self, delivery: Delivery, notification: Notification, subscription: Subscription | None
    ) -> None:
        if subscription is None or not subscription.webhook_secret:
            raise DeliveryRejected("the subscription of this webhook was deleted; nothing to sign with")
        if not subscription.active:
            reason = subscription.disabled_reason or "it was deactivated"
            raise DeliveryRejected(f"the subscription of this webhook is off: {reason}")
        payload = notification.payload or {}
        message = payload.get("message") or {
            "type": notification.event_type,
            "subject": notification.title,
            "summary": notification.body,
            "link": payload.get("link"),
        }
        now = datetime.now(UTC)
        body = json.dumps(
            {
                "type": message["type"],
                "version": MESSAGE_VERSION,
                "timestamp": now.isoformat(),
                "delivery": delivery.key,
                "notification_id": notification.id,
                "data": message,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        message_id = webhook_message_id(delivery.key)
        try:
            target = await resolve_webhook_target(
                delivery.target, allow_loopback=self.settings.webhook_allow_loopback_targets
            )
            response = await self.http.post(
                target.connect_url,
                content=body,
                headers={
                    "Host": target.host_header,
                    "Content-Type": "application/json",
                    "User-Agent": "synergies-tracker-webhooks",
                    "webhook-id": message_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": sign_webhook(subscription.webhook_secret, message_id, now, body),
                },
                timeout=self.settings.webhook_timeout_seconds,
                follow_redirects=False,
                extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
            )
            if not response.is_success:
                raise RuntimeError(f"webhook answered HTTP {response.status_code}")
        except WebhookHostUnresolved as exc:  # a DNS outage passes: retried, and counted
            await self._webhook_failed(subscription, str(exc))
            raise RuntimeError(str(exc)) from exc
        except WebhookTargetRejected:
            raise  # refused by policy: failed for good below, not a failure of the target
        except Exception as exc:
            await self._webhook_failed(subscription, f"{type(exc).__name__}: {exc}")
            raise
        if subscription.consecutive_failures:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(
                    update(Subscription)
                    .where(Subscription.id == subscription.id)
                    .values(consecutive_failures=0)
                )

    async def _webhook_failed(self, subscription: Subscription, error: str) -> None:
        """Count a failed attempt; at `webhook_disable_after_failures` in a row the subscription is
        switched off (its owner switches it on again) and this delivery fails for good."""
        limit = self.settings.webhook_disable_after_failures
        async with self.sessionmaker() as session, session.begin():
            failures = await session.scalar(
                update(Subscription)
                .where(Subscription.id == subscription.id)
                .values(consecutive_failures=Subscription.consecutive_failures + 1)
                .returning(Subscription.consecutive_failures)
            )
            if failures is None or failures < limit:
                return
            reason = f"switched off after {failures} failed deliveries in a row; last: {error}"[:2000]
            await session.execute(
                update(Subscription)
                .where(Subscription.id == subscription.id)
                .values(active=False, disabled_reason=reason)
            )
        activity.logger.warning("webhook subscription %s %s", subscription.id, reason)
        raise DeliveryRejected(reason)

    @activity.defn
    async def mark_delivery_failed(self, delivery_id: int, error: str) -> None:
        """After the last attempt: status failed with the error (a sent delivery stays sent)."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.SENT)
                .values(status=DeliveryStatus.FAILED, last_error=error[:4000])
            )

    # --- the digest -----------------------------------------------------------------------------

    @activity.defn
    async def send_daily_digest(self, day: str) -> int:
        """One e-mail per digest reader listing their undigested notifications and what is due;
        weekly readers get theirs on `settings.digest_weekday` only. Returns mails sent.

        Idempotent per person and day (Delivery key `digest/{day}/p{id}`); a person whose mail
        failed does not stop the others, and the activity raises at the end so Temporal retries.
        """
        on = date.fromisoformat(day)  # reject garbage early
        weekly_day = on.weekday() == self.settings.digest_weekday
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
            if person.daily_digest and person.digest_weekly and not weekly_day:
                continue
            try:
                sent += await self._digest_for(person, on)
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

    async def _due_for(self, session: AsyncSession, person: Person, on: date) -> list[dict[str, Any]]:
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
                "url": activity_url(self.settings, activity_id),
            }
            for activity_id, title, stage, due_on in rows
            if due_on is not None
        ]

    async def _digest_for(self, person: Person, on: date) -> int:
        key = f"digest/{on.isoformat()}/p{person.id}"
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
            due = await self._due_for(session, person, on) if person.daily_digest else []
            if not entries and not due:
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
        changes = [
            DigestEntry(
                entry.created_at,
                (entry.payload or {}).get("message")
                or {"subject": entry.title, "summary": entry.body, "link": (entry.payload or {}).get("link")},
            )
            for entry in entries
        ]
        rendered = render_digest(self.settings, person.name, on, person.digest_weekly, changes, due)
        try:
            await self._send_email(
                email_message(
                    self.settings,
                    rendered,
                    to=person.email,
                    key=key,
                    activity_id=None,
                    activity_title=None,
                    now=datetime.now(UTC),
                )
            )
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
