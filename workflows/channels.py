"""How a delivery reaches its target: e-mail by SMTP, webhooks by a signed HTTP POST.

Each send raises on failure, so the activity counts the attempt and Temporal retries it;
`DeliveryRejected` marks a failure no retry can fix. What is said is rendered when it is sent
(services/notification_messages.py, templates in services/templates/mail/), from the message stored
with the feed entry when the event was planned.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from types import TracebackType

import aiosmtplib
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.settings import Settings
from models import Delivery, Notification, Subscription
from services.deliveries import count_webhook_failure, reset_webhook_failures
from services.notification_messages import (
    MESSAGE_VERSION,
    ActionLink,
    Recipient,
    Rendered,
    Why,
    email_message,
    render,
)
from services.notifications import create_action_links
from services.webhooks import (
    WebhookHostUnresolved,
    WebhookTargetRejected,
    resolve_webhook_target,
    sign_webhook,
)

REMINDER_KINDS = ("reminder", "overdue", "management")
SMTP_TIMEOUT = 30  # seconds; with the webhook timeout, what bounds a send (workflows/notifications.py)


class DeliveryRejected(Exception):
    """A send that must not be retried."""


def webhook_message_id(delivery_key: str) -> str:
    """`webhook-id`: the same for every attempt of one delivery, so receivers can drop repeats."""
    return "msg_" + hashlib.sha256(delivery_key.encode()).hexdigest()[:32]


def _legacy_rendered(notification: Notification) -> Rendered:
    """A feed entry planned before messages were rendered from templates: its own title and body."""
    link = (notification.payload or {}).get("link")
    text = notification.body + (f"\n\n{link}\n" if link else "\n")
    return Rendered(notification.title, text, f"<p>{notification.body}</p>")


class Mailer:
    """One SMTP connection for the messages of one activity run (an event's recipients), opened
    at the first message; sends take turns on it. A failed send closes it, so the next message
    starts on a fresh connection and one bad message never fails another; a failed connect fails
    the run's remaining messages at once (each still counts its attempt) rather than trying again
    per message. Past `deadline` (loop time) no message starts: it is left unsent for the retry."""

    def __init__(self, settings: Settings, deadline: float | None = None) -> None:
        self.settings = settings
        self.deadline = deadline
        self._smtp: aiosmtplib.SMTP | None = None
        self._connect_error: Exception | None = None
        self._turn = asyncio.Lock()

    async def __aenter__(self) -> Mailer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def send(self, message: Message) -> None:
        async with self._turn:
            if self.deadline is not None and asyncio.get_running_loop().time() > self.deadline:
                raise SendDeferred("no time left in this attempt; sent by the next one")
            if self._connect_error is not None:
                raise self._connect_error
            if self._smtp is None:
                smtp = aiosmtplib.SMTP(
                    hostname=self.settings.smtp_host,
                    port=self.settings.smtp_port,
                    username=self.settings.smtp_username,
                    password=self.settings.smtp_password,
                    start_tls=self.settings.smtp_starttls,
                    timeout=SMTP_TIMEOUT,
                )
                try:
                    await smtp.connect()
                except Exception as exc:
                    self._connect_error = exc
                    raise
                self._smtp = smtp
            try:
                await self._smtp.send_message(message)
            except Exception:
                self._smtp.close()  # in an unknown state: no QUIT, the next message reconnects
                self._smtp = None
                raise

    async def _close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except Exception:  # every message is sent already; only the goodbye failed
                smtp.close()


class SendDeferred(Exception):
    """A send not attempted: its run ran out of time; the activity's retry sends it."""


async def send_email(
    settings: Settings,
    rendered: Rendered,
    *,
    to: str,
    key: str,
    activity_id: int | None = None,
    activity_title: str | None = None,
    mailer: Mailer | None = None,
) -> None:
    """One rendered message to `to` through the configured SMTP server (`key`: the delivery's,
    which the message id derives from), on `mailer`'s connection or on one of its own."""
    message = email_message(
        settings,
        rendered,
        to=to,
        key=key,
        activity_id=activity_id,
        activity_title=activity_title,
        now=datetime.now(UTC),
    )
    if mailer is not None:
        await mailer.send(message)
        return
    async with Mailer(settings) as own:
        await own.send(message)


@dataclass(frozen=True)
class Channels:
    """The sends of feed entries' deliveries, with the clients they use."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient

    async def send_email(
        self, delivery: Delivery, notification: Notification, mailer: Mailer | None = None
    ) -> None:
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
        await send_email(
            self.settings,
            rendered,
            to=delivery.target,
            key=delivery.key,
            activity_id=notification.activity_id,
            activity_title=activity_facts.get("title"),
            mailer=mailer,
        )

    async def send_webhook(
        self, delivery: Delivery, notification: Notification, subscription: Subscription | None
    ) -> None:
        """POST the message, signed with the subscription's secret, to the address checked now (no
        second DNS lookup); failures in a row switch the subscription off (`_webhook_failed`)."""
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
            raise  # refused by policy: failed for good by the caller, not a failure of the target
        except Exception as exc:
            await self._webhook_failed(subscription, f"{type(exc).__name__}: {exc}")
            raise
        if subscription.consecutive_failures:
            async with self.sessionmaker() as session, session.begin():
                await reset_webhook_failures(session, subscription.id)

    async def _webhook_failed(self, subscription: Subscription, error: str) -> None:
        """Count a failed attempt; at `webhook_disable_after_failures` in a row the subscription is
        switched off (its owner switches it on again) and this delivery fails for good."""
        async with self.sessionmaker() as session, session.begin():
            reason = await count_webhook_failure(
                session, subscription.id, self.settings.webhook_disable_after_failures, error
            )
        if reason is None:
            return
        activity.logger.warning("webhook subscription %s %s", subscription.id, reason)
        raise DeliveryRejected(reason)
