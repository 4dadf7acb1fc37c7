"""The notification outbox: events written with their change, relayed once against a real SMTP
server, retried by the delivery policy, given up after the last attempt, never sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.errors import Conflict
from core.events import Audience
from core.stages import Stage
from models import Activity, Channel, Delivery, DeliveryStatus, OutboxEvent
from models.db import transaction
from services.outbox import claim, enqueue
from services.transitions import TransitionRecord, record_transition
from tests.notifications.world import World
from tests.servers_support import SMTPServer
from workflows.notifications import DELIVER_TIMEOUT, DELIVERY_RETRY_POLICY, NotificationActivities
from workflows.relay import OutboxRelay, retry_delay


async def outbox(db) -> list[OutboxEvent]:  # type: ignore[no-untyped-def]
    async with db() as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


async def email_deliveries(db) -> list[Delivery]:  # type: ignore[no-untyped-def]
    async with db() as session:
        return list(
            await session.scalars(
                select(Delivery).where(Delivery.channel == Channel.EMAIL).order_by(Delivery.id)
            )
        )


def move(world: World, seq: int, **fields) -> TransitionRecord:  # type: ignore[no-untyped-def]
    return TransitionRecord(
        activity_id=world.activity_id,
        seq=seq,
        from_stage=Stage.THEMATIC_GROUP,
        to_stage=Stage.TASK_TEAM,
        actor_id=None,
        at=datetime.now(UTC),
        notification=world.event(key=f"activity-1/t{seq}"),
        **fields,
    )


async def test_a_move_writes_its_event_in_its_own_transaction(db, world: World) -> None:
    async with db() as session:
        count = await session.scalar(
            select(Activity.transition_count).where(Activity.id == world.activity_id)
        )
    async with transaction(db) as session:
        transition, _ = await record_transition(session, move(world, count + 1))
    [row] = await outbox(db)
    assert row.key == "activity-1/t1" and row.attempts == 0
    assert row.event["transition_id"] == transition.id  # filled in by the write

    with pytest.raises(Conflict):  # a move refused writes no event
        async with transaction(db) as session:
            await record_transition(session, move(world, count + 1, request_key="another request"))
    with pytest.raises(RuntimeError):  # nor one rolled back after it
        async with transaction(db) as session:
            await record_transition(session, move(world, count + 2))
            raise RuntimeError("the transaction fails after the write")
    assert [r.key for r in await outbox(db)] == ["activity-1/t1"]


async def test_the_relay_sends_an_event_once_and_removes_it(
    db, world: World, acts: NotificationActivities, smtp: SMTPServer
) -> None:
    event = world.event(audiences=(Audience.LEAD, Audience.COORDINATORS))
    relay = OutboxRelay(acts, poll_seconds=0.05)
    async with transaction(db) as session:
        assert await enqueue(session, [event, event], datetime.now(UTC)) == 1
    assert await relay.relay_once() == 1
    assert sorted(smtp.recipients()) == sorted(d.target for d in await email_deliveries(db))
    assert await outbox(db) == []
    sent = len(smtp.mails)

    # The same event written again (a write adopted from the database) sends nothing twice.
    async with transaction(db) as session:
        assert await enqueue(session, [event], datetime.now(UTC)) == 1
    assert await relay.relay_once() == 1
    assert len(smtp.mails) == sent and await outbox(db) == []


async def test_a_failed_event_waits_its_backoff_and_is_sent_once_when_the_server_is_back(
    db, world: World, acts: NotificationActivities, settings
) -> None:
    smtp = SMTPServer()  # not started yet
    settings.smtp_port = smtp.port
    relay = OutboxRelay(acts, poll_seconds=0.05)
    async with transaction(db) as session:
        await enqueue(session, [world.event(audiences=(Audience.LEAD,))], datetime.now(UTC))
    before = datetime.now(UTC)
    assert await relay.relay_once() == 1
    [row] = await outbox(db)
    assert row.attempts == 1 and "deliveries failed" in (row.last_error or "")
    assert before + timedelta(seconds=5) <= row.available_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert await relay.relay_once() == 0  # not due before its backoff
    [delivery] = await email_deliveries(db)
    assert delivery.status is DeliveryStatus.RETRYING and delivery.attempts == 1

    smtp.start()
    try:
        async with transaction(db) as session:  # the backoff has passed
            await session.execute(update(OutboxEvent).values(available_at=datetime.now(UTC)))
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0
        assert smtp.recipients() == [delivery.target]
    finally:
        smtp.stop()
    [delivery] = await email_deliveries(db)
    assert delivery.status is DeliveryStatus.SENT and delivery.attempts == 2
    assert await outbox(db) == []


async def test_after_the_last_attempt_what_is_unsent_is_failed_never_sent(
    db, world: World, acts: NotificationActivities, settings
) -> None:
    settings.smtp_port = SMTPServer().port  # nobody listens
    async with transaction(db) as session:
        await enqueue(session, [world.event(audiences=(Audience.LEAD,))], datetime.now(UTC))
        await session.execute(
            update(OutboxEvent).values(attempts=(DELIVERY_RETRY_POLICY.maximum_attempts or 1) - 1)
        )
    assert await OutboxRelay(acts, poll_seconds=0.05).relay_once() == 1
    [delivery] = await email_deliveries(db)
    assert delivery.status is DeliveryStatus.FAILED and delivery.last_error
    assert await outbox(db) == []


async def test_a_claimed_event_is_not_claimed_again_until_its_lease_ends(db, world: World) -> None:
    now = datetime.now(UTC)
    async with transaction(db) as session:
        await enqueue(session, [world.event(key=f"activity-1/e{i}") for i in range(3)], now)
    async with transaction(db) as session:
        first = await claim(session, now, limit=2, lease=DELIVER_TIMEOUT)
    async with transaction(db) as session:
        second = await claim(session, now, limit=5, lease=DELIVER_TIMEOUT)
    assert [c.event.key for c in first] == ["activity-1/e0", "activity-1/e1"]
    assert [c.event.key for c in second] == ["activity-1/e2"]
    async with transaction(db) as session:  # a relay that died with them: after the lease
        again = await claim(
            session, now + DELIVER_TIMEOUT + timedelta(seconds=1), limit=5, lease=DELIVER_TIMEOUT
        )
    assert [c.event.key for c in again] == ["activity-1/e0", "activity-1/e1", "activity-1/e2"]
    assert [c.attempt for c in again] == [2, 2, 2]
    assert again[0].event == world.event(key="activity-1/e0")  # the event as it was written


async def test_two_relays_never_send_an_event_twice(
    db, world: World, acts: NotificationActivities, smtp: SMTPServer
) -> None:
    events = [world.event(key=f"activity-1/e{i}", audiences=(Audience.LEAD,)) for i in range(30)]
    async with transaction(db) as session:
        await enqueue(session, events, datetime.now(UTC))
    relays = [OutboxRelay(acts, poll_seconds=0.05) for _ in range(2)]
    stop = asyncio.Event()
    running = [asyncio.create_task(relay.run(stop)) for relay in relays]
    try:
        for _ in range(200):
            if len(smtp.mails) >= len(events) and not await outbox(db):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*running)
    assert await outbox(db) == []
    sent = Counter(mail.message["Message-ID"] for mail in smtp.mails)  # one per delivery key
    assert len(sent) == len(events) and set(sent.values()) == {1}


def test_the_backoff_is_the_delivery_retry_policy() -> None:
    delays = [retry_delay(attempt).total_seconds() for attempt in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600]
