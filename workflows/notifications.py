"""Sending an event: plan it (services/deliveries.py: who hears of it, in services/recipients.py,
and one feed entry and delivery each, written once) and send what is still unsent through its
channel (workflows/channels.py).

Events come from the outbox (services/outbox.py, relayed by workflows/relay.py, which retries an
event by `DELIVERY_RETRY_POLICY` and calls `fail_event` after the last attempt); workflows
started before it hand them to the `notify` activity instead. A delivery is marked sent only after
the send succeeded. The digest (its activity next to its workflow) is in workflows/digest.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from core.events import NotificationEvent
from core.metrics import DELIVERIES, DELIVERY_FAILURES
from core.settings import Settings
from models import Channel, DeliveryStatus
from services.deliveries import (
    DeliveryToSend,
    deliveries_to_send,
    mark_failed,
    mark_sent,
    plan_event,
    record_failed_attempt,
)
from services.webhooks import WebhookTargetRejected
from workflows.channels import SMTP_TIMEOUT, Channels, DeliveryRejected, Mailer, SendDeferred

DELIVERY_REJECTED = "DeliveryRejected"
"""Error type of failures that no retry can fix (target refused by policy, subscription gone)."""

DELIVERY_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=30,
    non_retryable_error_types=[DELIVERY_REJECTED],
)
"""For an event (and `deliver`): about 3.5 days of attempts (5 s doubling to 10 min, then every
10 min)."""

# A send is bounded by the SMTP/webhook timeouts (<= 30 s): a send lost with a crashed worker
# is retried after this, not after minutes.
DELIVER_TIMEOUT = timedelta(seconds=35)
# The e-mails of one event take turns on one SMTP connection: none starts later than this into
# the attempt, so the last one still ends within DELIVER_TIMEOUT; the rest wait for the retry.
SEND_BUDGET = DELIVER_TIMEOUT - timedelta(seconds=SMTP_TIMEOUT + 2)


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
        self.channels = Channels(settings, sessionmaker, http)

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods the workflows call, for `Worker(activities=...)`. The steps
        below (`plan_deliveries`, `deliver`, `deliver_batch`, `mark_delivery_failed`) are not
        registered: no workflow schedules them."""
        return [self.notify, self.mark_event_failed]

    async def send_event(self, event: NotificationEvent) -> int:
        """Plan and send an event's deliveries. Another attempt plans again (idempotent: nothing
        is written twice) and sends only what is still unsent. Returns how many were sent by
        this attempt."""
        pending, rows = await self._plan_and_read(event)
        return await self._send_all(pending, rows)

    async def fail_event(self, event: NotificationEvent, error: str) -> None:
        """After the last attempt: the deliveries still unsent are failed, never sent."""
        for delivery_id in await self._plan(event):
            await self._mark_failed(delivery_id, error)

    # The activities of workflow histories written before the outbox (services/outbox.py):
    # their workflows scheduled one `notify` per event.

    @activity.defn
    async def notify(self, event: NotificationEvent) -> int:
        """`send_event` as an activity, retried by `DELIVERY_RETRY_POLICY`."""
        return await self.send_event(event)

    @activity.defn
    async def mark_event_failed(self, event: NotificationEvent, error: str) -> None:
        """After `notify`'s last attempt."""
        await self.fail_event(event, error)

    @activity.defn
    async def deliver(self, delivery_id: int) -> str:
        """Send one delivery. Returns "sent", or "already_sent" (nothing is sent twice).

        Every failed attempt increments `attempts`, records `last_error` and re-raises, so Temporal
        retries with backoff; refusals no retry can fix raise a non-retryable `DeliveryRejected`.
        """
        async with self.sessionmaker() as session:
            rows = await deliveries_to_send(session, [delivery_id])
        return await self._attempt(delivery_id, rows.get(delivery_id), None)

    async def _attempt(self, delivery_id: int, row: DeliveryToSend | None, mailer: Mailer | None) -> str:
        """One attempt at one delivery (`deliver`'s contract), e-mail on `mailer`'s connection."""
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
                await self.channels.send_email(delivery, notification, mailer)
            elif delivery.channel is Channel.WEBHOOK:
                await self.channels.send_webhook(delivery, notification, subscription)
            # FEED: the feed entry is the notification row itself
        except SendDeferred:
            raise  # not attempted: nothing to count
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            async with self.sessionmaker() as session, session.begin():
                await record_failed_attempt(session, delivery_id, error)
            DELIVERY_FAILURES.labels(channel=delivery.channel.value).inc()
            activity.logger.warning("delivery %s failed: %s", delivery.key, error)
            if isinstance(exc, DeliveryRejected | WebhookTargetRejected):
                raise ApplicationError(error, type=DELIVERY_REJECTED, non_retryable=True) from exc
            raise
        async with self.sessionmaker() as session, session.begin():
            await mark_sent(session, delivery_id, datetime.now(UTC))
        DELIVERIES.labels(channel=delivery.channel.value).inc()
        return "sent"

    async def _plan(self, event: NotificationEvent) -> list[int]:
        """The event's feed entries and deliveries written once; the ids still to send."""
        return (await self._plan_and_read(event, read=False))[0]

    async def _plan_and_read(
        self, event: NotificationEvent, *, read: bool = True
    ) -> tuple[list[int], dict[int, DeliveryToSend]]:
        """`_plan`, and (`read`) the deliveries still to send with their feed entries, read in the
        same transaction: no second connection checkout per event."""
        async with self.sessionmaker() as session, session.begin():
            plan = await plan_event(session, self.settings, event, datetime.now(UTC))
            rows = await deliveries_to_send(session, plan.pending) if read and plan.pending else {}
        if plan.new_feed_entries:  # the feed entries were delivered by this commit
            DELIVERIES.labels(channel=Channel.FEED.value).inc(plan.new_feed_entries)
        activity.logger.info("event %s: %d deliveries to send", event.key, len(plan.pending))
        return plan.pending, rows

    async def _send_all(self, delivery_ids: list[int], rows: dict[int, DeliveryToSend] | None = None) -> int:
        """Send all deliveries of one event at once (read in one query unless `rows` holds them;
        the e-mails on one SMTP connection, webhooks alongside). A retry sends only what is still
        unsent; a refusal no retry can fix is marked failed at once. Returns how many were sent."""
        if not delivery_ids:
            return 0
        if rows is None:
            async with self.sessionmaker() as session:
                rows = await deliveries_to_send(session, delivery_ids)
        deadline = asyncio.get_running_loop().time() + SEND_BUDGET.total_seconds()
        async with Mailer(self.settings, deadline) as mailer:
            results = await asyncio.gather(
                *(self._attempt(delivery_id, rows.get(delivery_id), mailer) for delivery_id in delivery_ids),
                return_exceptions=True,
            )
        failed = []
        for delivery_id, result in zip(delivery_ids, results, strict=True):
            if isinstance(result, ApplicationError) and result.non_retryable:
                await self._mark_failed(delivery_id, str(result))
            elif isinstance(result, BaseException):
                failed.append(f"delivery {delivery_id}: {result}")
        if failed:
            raise ApplicationError(
                f"{len(failed)} of {len(delivery_ids)} deliveries failed: " + "; ".join(failed)[:2000]
            )
        return sum(1 for result in results if result == "sent")

    async def _mark_failed(self, delivery_id: int, error: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await mark_failed(session, delivery_id, error)

    # --- notify's steps, one at a time (tests run them; tests/notifications/flow.py as activities)

    @activity.defn
    async def plan_deliveries(self, event: NotificationEvent) -> list[int]:
        """Write the feed entries and deliveries of `event` once; return the ids still to send."""
        return await self._plan(event)

    @activity.defn
    async def deliver_batch(self, delivery_ids: list[int]) -> int:
        """Send all deliveries of one event in one activity: a workflow round trip per event, not
        per recipient. Returns how many were sent by this attempt."""
        return await self._send_all(delivery_ids)

    @activity.defn
    async def mark_delivery_failed(self, delivery_id: int, error: str) -> None:
        """After the last attempt: status failed with the error (a sent delivery stays sent)."""
        await self._mark_failed(delivery_id, error)
