"""The outbox relay of the notifications worker: claims the events that moves, reminders and edits
wrote to the outbox (services/outbox.py), sends each (`NotificationActivities.send_event`), and
retries a failed one by `DELIVERY_RETRY_POLICY` (5 s doubling to 10 min, 30 attempts) before
marking what is left failed. An event is claimed for `DELIVER_TIMEOUT`: one lost with a crashed
worker is taken again after that, and sends only what is still unsent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from models.db import transaction
from services.outbox import ClaimedEvent, claim, remove, retry_later
from workflows.notifications import DELIVER_TIMEOUT, DELIVERY_RETRY_POLICY, NotificationActivities

logger = logging.getLogger(__name__)

BATCH = 20
"""Events claimed and sent at once: each on its own connection, as many as the pool allows."""


def retry_delay(attempt: int) -> timedelta:
    """The wait after failed attempt `attempt` (1, 2, ...), as Temporal's retry policy computes it."""
    policy = DELIVERY_RETRY_POLICY
    assert policy.maximum_interval is not None
    delay = policy.initial_interval * policy.backoff_coefficient ** (attempt - 1)
    return min(delay, policy.maximum_interval)


class OutboxRelay:
    def __init__(self, notifications: NotificationActivities, poll_seconds: float) -> None:
        self.notifications = notifications
        self.sessionmaker = notifications.sessionmaker
        self.poll_seconds = poll_seconds

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop`; the events in hand are finished first. A database that does not
        answer is tried again at the next poll, said once per outage."""
        failing = False
        while not stop.is_set():
            try:
                relayed = await self.relay_once()
                failing = False
            except Exception:
                if not failing:
                    logger.exception("the notification outbox cannot be read; trying again")
                failing, relayed = True, 0
            if relayed < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)

    async def relay_once(self) -> int:
        """Claim the due events, send them, record the outcome; returns how many were claimed."""
        async with transaction(self.sessionmaker) as session:
            claimed = await claim(session, datetime.now(UTC), limit=BATCH, lease=DELIVER_TIMEOUT)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(event) for event in claimed))
        async with transaction(self.sessionmaker) as session:
            await remove(session, [event.id for event, done in zip(claimed, outcomes, strict=True) if done])
        return len(claimed)

    async def _send(self, claimed: ClaimedEvent) -> bool:
        """True when the event is done with: sent, or failed for good."""
        try:
            await self.notifications.send_event(claimed.event)
            return True
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if claimed.attempt >= (DELIVERY_RETRY_POLICY.maximum_attempts or 1):
                logger.warning(
                    "event %s: giving up after %d attempts: %s", claimed.event.key, claimed.attempt, error
                )
                await self.notifications.fail_event(claimed.event, error)
                return True
            retry_at = datetime.now(UTC) + retry_delay(claimed.attempt)
            logger.info(
                "event %s: attempt %d failed, again at %s: %s",
                claimed.event.key,
                claimed.attempt,
                retry_at,
                error,
            )
            async with transaction(self.sessionmaker) as session:
                await retry_later(session, claimed.id, retry_at, error)
            return False
