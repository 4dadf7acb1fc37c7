"""The daily digest: one mail per digest reader listing their entries, once a day, by Schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from core.events import Audience, EventType
from core.settings import Settings
from models import ActionToken, Channel, Delivery, DeliveryStatus, Notification
from tests.conftest import People
from tests.notifications.world import World, build_world
from tests.servers_support import SMTPServer, wait_for
from workflows.digest import DIGEST_SCHEDULE_ID, DigestActivities, DigestWorkflow, ensure_digest_schedule
from workflows.notifications import NotificationActivities

EXTRA = {"watcher-digest-a": {"daily_digest": True}, "watcher-digest-b": {"daily_digest": True}}


@pytest.fixture
def extra_people() -> dict[str, dict[str, Any]]:
    return EXTRA


@pytest.fixture
def digest(settings: Settings, db) -> DigestActivities:  # type: ignore[no-untyped-def]
    return DigestActivities(settings, db)


async def plan_two_events(acts: NotificationActivities, world: World) -> None:
    env = ActivityEnvironment()
    for n, type_ in ((1, EventType.TRANSITION), (2, EventType.DUE_DATE_CHANGED)):
        await env.run(
            acts.plan_deliveries,
            world.event(
                key=f"activity-1/ev-{n}",
                type=type_,
                due_on=date(2026, 6, 1),
                body="The due date moved from 2026-05-01 to 2026-06-01.",
                audiences=(Audience.WATCHERS,),
            ),
        )


async def test_digest_sends_one_mail_per_reader_listing_their_entries_once(
    db, world: World, acts: NotificationActivities, digest: DigestActivities, smtp: SMTPServer
) -> None:
    await plan_two_events(acts, world)
    async with db() as session:  # digest readers got feed entries but no immediate e-mail
        targets = set(await session.scalars(select(Delivery.target).where(Delivery.channel == Channel.EMAIL)))
    assert targets == {world.persons["oversight"].email}

    env = ActivityEnvironment()
    assert await env.run(digest.send_daily_digest, "2026-03-02") == 2
    assert smtp.recipients() == ["watcher-digest-a@example.org", "watcher-digest-b@example.org"]
    for mail in smtp.mails:
        assert mail.message["Subject"] == "Synergies Tracker daily digest, 2 March 2026: 2 updates"
        text = mail.message.get_body(("plain",)).get_content()
        assert "Joint e-waste workshop moved to task team" in text
        assert "Joint e-waste workshop: task team now due 1 June 2026" in text
        assert "from 1 May 2026 to 1 June 2026" in text
        assert f"http://testserver/app/activities/{world.activity_id}" in text

    # Retried, or run again the same day: nothing more is sent.
    assert await env.run(digest.send_daily_digest, "2026-03-02") == 0
    assert len(smtp.mails) == 2
    async with db() as session:
        digests = list(await session.scalars(select(Delivery).where(Delivery.key.like("digest/%"))))
        assert {d.key for d in digests} == {f"digest/2026-03-02/p{world.persons[name].id}" for name in EXTRA}
        assert all(d.status is DeliveryStatus.SENT and d.attempts == 1 for d in digests)
        entries = list(
            await session.scalars(
                select(Notification).where(Notification.person_id == world.persons["watcher-digest-a"].id)
            )
        )
        assert len(entries) == 2 and all(e.digested_at is not None for e in entries)

    # The next day lists only what is new.
    await env.run(
        acts.plan_deliveries,
        world.event(
            key="activity-1/s1/2026-03-17/before-14",
            type=EventType.REMINDER,
            due_on=date(2026, 3, 17),
            audiences=(Audience.WATCHERS,),
        ),
    )
    assert await env.run(digest.send_daily_digest, "2026-03-03") == 2
    new = smtp.mails[2:]
    assert len(new) == 2
    reminder = "Reminder: Joint e-waste workshop (task team) is due in 14 days, on 17 March 2026"
    assert all(reminder in m.text and "moved to task team" not in m.text for m in new)
    assert await env.run(digest.send_daily_digest, "2026-03-04") == 0


async def test_digest_with_smtp_down_raises_and_sends_later_exactly_once(
    db, world: World, acts: NotificationActivities, digest: DigestActivities, settings: Settings
) -> None:
    await plan_two_events(acts, world)
    smtp = SMTPServer()
    settings.smtp_port = smtp.port
    env = ActivityEnvironment()
    with pytest.raises(RuntimeError, match="2 digest mail"):
        await env.run(digest.send_daily_digest, "2026-03-02")
    async with db() as session:
        digests = list(await session.scalars(select(Delivery).where(Delivery.key.like("digest/%"))))
        assert len(digests) == 2
        assert all(d.status is DeliveryStatus.RETRYING and d.attempts == 1 and d.last_error for d in digests)
        assert all(n.digested_at is None for n in await session.scalars(select(Notification)))
    smtp.start()
    try:
        assert await env.run(digest.send_daily_digest, "2026-03-02") == 2
        assert await env.run(digest.send_daily_digest, "2026-03-02") == 0
        assert len(smtp.mails) == 2
    finally:
        smtp.stop()


async def test_schedule_is_created_idempotently_and_its_run_sends_the_digest(
    db,
    world: World,
    acts: NotificationActivities,
    digest: DigestActivities,
    smtp: SMTPServer,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    await plan_two_events(acts, world)
    client = temporal_env.client
    await ensure_digest_schedule(client, settings, hour=5)
    await ensure_digest_schedule(client, settings)  # again: updated in place, no error
    handle = client.get_schedule_handle(DIGEST_SCHEDULE_ID)
    try:
        description = await handle.describe()
        [calendar] = description.schedule.spec.calendars
        assert [r.start for r in calendar.hour] == [6] and [r.start for r in calendar.minute] == [0]
        action = description.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == "DigestWorkflow" and action.task_queue == task_queue

        async with Worker(client, task_queue=task_queue, workflows=[DigestWorkflow], activities=digest.all()):
            await handle.trigger()

            async def started() -> bool:
                return bool((await handle.describe()).info.recent_actions)

            await wait_for(started)
            run = (await handle.describe()).info.recent_actions[-1].action
            result = await client.get_workflow_handle(run.workflow_id).result()  # type: ignore[attr-defined]
        assert result == 2
        assert smtp.recipients() == ["watcher-digest-a@example.org", "watcher-digest-b@example.org"]
    finally:
        await handle.delete()


async def test_digest_workflow_for_a_given_day(
    db,
    world: World,
    acts: NotificationActivities,
    digest: DigestActivities,
    smtp: SMTPServer,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    await plan_two_events(acts, world)
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[DigestWorkflow],
        activities=digest.all(),
    ):
        for _ in range(2):
            sent = await temporal_env.client.execute_workflow(
                DigestWorkflow.run,
                "2026-03-02",
                id=f"digest-{uuid.uuid4()}",
                task_queue=task_queue,
                execution_timeout=timedelta(seconds=60),
            )
            assert sent in (2, 0)
    assert len(smtp.mails) == 2


async def test_the_daily_run_deletes_one_click_links_used_or_expired_before_the_retention(
    db,
    world: World,
    acts: NotificationActivities,
    digest: DigestActivities,
    smtp: SMTPServer,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    now = datetime.now(UTC)
    retention = timedelta(days=settings.action_link_retention_days)
    long_ago, lately = now - retention - timedelta(days=1), now - retention + timedelta(days=1)
    links = {  # name: (created_at, expires_at, used_at)
        "used long ago": (long_ago - timedelta(days=1), now + timedelta(days=5), long_ago),
        "expired long ago": (long_ago - timedelta(days=14), long_ago, None),
        "used lately": (lately - timedelta(days=1), now + timedelta(days=5), lately),
        "expired lately": (lately - timedelta(days=14), lately, None),
        "old but still valid": (long_ago - timedelta(days=30), now + timedelta(days=1), None),
    }
    async with db() as session, session.begin():
        for name, (created_at, expires_at, used_at) in links.items():
            session.add(
                ActionToken(
                    token_hash=name.replace(" ", "-").ljust(64, "0"),
                    person_id=world.persons["task_team_lead"].id,
                    activity_id=world.activity_id,
                    action="acknowledge",
                    created_at=created_at,
                    expires_at=expires_at,
                    used_at=used_at,
                )
            )
    await plan_two_events(acts, world)
    async with Worker(
        temporal_env.client, task_queue=task_queue, workflows=[DigestWorkflow], activities=digest.all()
    ):
        sent = await temporal_env.client.execute_workflow(
            DigestWorkflow.run,
            "2026-03-02",
            id=f"digest-{uuid.uuid4()}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
        )
    assert sent == 2  # the digest itself is unchanged
    async with db() as session:
        kept = set(await session.scalars(select(ActionToken.token_hash)))
    assert {value.rstrip("0").replace("-", " ") for value in kept} == {
        "used lately",
        "expired lately",
        "old but still valid",
    }


async def test_weekly_readers_get_one_digest_on_the_weekday_listing_what_is_due(
    db,
    people: People,
    acts: NotificationActivities,
    digest: DigestActivities,
    smtp: SMTPServer,
    settings: Settings,
) -> None:
    from models import Activity

    world = await build_world(db, people, {"watcher-weekly": {"daily_digest": True, "digest_weekly": True}})
    async with db() as session, session.begin():
        activity = await session.get_one(Activity, world.activity_id)
        activity.stage_due_on = date(2026, 3, 5)  # due within two weeks of the digest days below
    await plan_two_events(acts, world)
    env = ActivityEnvironment()
    assert settings.digest_weekday == 0
    assert await env.run(digest.send_daily_digest, "2026-03-03") == 0  # a Tuesday: not yet
    assert smtp.mails == []
    assert await env.run(digest.send_daily_digest, "2026-03-02") == 1  # a Monday
    [mail] = smtp.mails
    assert mail.rcpt_tos == ["watcher-weekly@example.org"]
    assert mail.message["Subject"] == (
        "Synergies Tracker weekly digest, 2 March 2026: 2 updates, 1 due soon or overdue"
    )
    text = mail.text
    assert "Due soon or overdue:\n  - Joint e-waste workshop (thematic group): due 5 March 2026" in text
    assert "Joint e-waste workshop moved to task team" in text
    assert "<li>" in mail.html


async def test_a_digest_reader_is_not_mailed_one_by_one(
    db, world: World, acts: NotificationActivities, smtp: SMTPServer
) -> None:
    await plan_two_events(acts, world)
    await ActivityEnvironment().run(
        acts.notify, world.event("activity-1/ev-9", audiences=(Audience.WATCHERS,))
    )
    assert "watcher-digest-a@example.org" not in smtp.recipients()
    assert world.persons["oversight"].email in smtp.recipients()
