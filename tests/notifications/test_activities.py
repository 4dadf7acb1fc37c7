"""The notification activities against real servers: SMTP (aiosmtpd), an HTTP receiver, Temporal."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from standardwebhooks.webhooks import WebhookVerificationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from core.events import Audience, EventType
from core.settings import Settings
from models import Channel, Delivery, DeliveryStatus, Notification
from services.webhooks import verify_webhook
from tests.notifications.flow import NotifyInput, NotifyWorkflow, flow_activities
from tests.notifications.world import World, add_subscription
from tests.servers_support import SMTPServer, WebhookReceiver, wait_for
from workflows import notifications
from workflows.notifications import DELIVERY_RETRY_POLICY, NotificationActivities

EXTRA = {
    "watcher-digest": {"daily_digest": True},
    "watcher-inactive": {"active": False},
    "sub-match": {},
    "sub-other-convention": {},
    "sub-reminders-only": {},
    "sub-feed": {},
    "sub-other-stage": {},
    "sub-other-group": {},
    "sub-inactive": {},
    "sub-webhook": {},
}


DELIVERIES_TOTAL = "synergies_notification_deliveries_total"
FAILURES_TOTAL = "synergies_notification_delivery_failures_total"


def metric(name: str, channel: str = "email") -> float:
    return REGISTRY.get_sample_value(name, {"channel": channel}) or 0.0


@pytest.fixture
def extra_people() -> dict[str, dict[str, Any]]:
    return EXTRA


async def subscribe_everyone(db, world: World, receiver: WebhookReceiver) -> None:  # type: ignore[no-untyped-def]
    p = world.persons
    await add_subscription(
        db,
        p["sub-match"],
        channel=Channel.EMAIL,
        event_type="transition",
        convention_code="basel",
        thematic_group_id=world.thematic_group_id,
        stage="task_team",
    )
    await add_subscription(db, p["sub-other-convention"], channel=Channel.EMAIL, convention_code="minamata")
    await add_subscription(db, p["sub-reminders-only"], channel=Channel.EMAIL, event_type="reminder")
    await add_subscription(db, p["sub-feed"], channel=Channel.FEED)
    await add_subscription(db, p["sub-other-stage"], channel=Channel.EMAIL, stage="pilot_project")
    await add_subscription(
        db, p["sub-other-group"], channel=Channel.EMAIL, thematic_group_id=world.other_group_id
    )
    await add_subscription(db, p["sub-inactive"], channel=Channel.EMAIL, active=False)
    await add_subscription(
        db,
        p["sub-webhook"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret="s3cret-for-tests-only",
    )


async def deliveries(db) -> list[Delivery]:  # type: ignore[no-untyped-def]
    async with db() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def notified_emails(db) -> set[str]:  # type: ignore[no-untyped-def]
    from models import Person

    async with db() as session:
        rows = await session.scalars(
            select(Person.email).join(Notification, Notification.person_id == Person.id)
        )
        return set(rows)


async def test_recipients_come_from_audiences_and_matching_subscriptions(
    db, world: World, acts: NotificationActivities, receiver: WebhookReceiver, settings: Settings
) -> None:
    await subscribe_everyone(db, world, receiver)
    p = world.persons

    ids = await ActivityEnvironment().run(acts.plan_deliveries, world.event())

    assert await notified_emails(db) == {
        p[name].email
        for name in (
            "coordinator",
            "task_team_lead",
            "oversight",
            "watcher-digest",
            "sub-match",
            "sub-feed",
            "sub-webhook",
        )
    }  # not: admin (management not addressed), inactive watcher, non-matching subscriptions
    rows = await deliveries(db)
    pending = {(d.channel, d.target) for d in rows if d.status is DeliveryStatus.PENDING}
    assert pending == {
        (Channel.EMAIL, p["coordinator"].email),
        (Channel.EMAIL, p["task_team_lead"].email),
        (Channel.EMAIL, p["oversight"].email),
        (Channel.EMAIL, p["sub-match"].email),
        (Channel.EMAIL, settings.coordinators_group_email),
        (Channel.WEBHOOK, receiver.url()),
    }  # the digest reader's e-mail waits for the digest; sub-feed asked for the feed only
    assert settings.management_group_email not in {d.target for d in rows}
    feed = [d for d in rows if d.channel is Channel.FEED]
    assert len(feed) == 7 and all(d.status is DeliveryStatus.SENT for d in feed)
    assert sorted(ids) == sorted(d.id for d in rows if d.status is DeliveryStatus.PENDING)
    assert all(d.key.startswith("activity-1/ev-1/") for d in rows)


async def test_management_audience_reaches_its_members_and_group_address(
    db, world: World, acts: NotificationActivities, settings: Settings
) -> None:
    event = world.event(audiences=(Audience.MANAGEMENT,), type=EventType.ESCALATION)
    await ActivityEnvironment().run(acts.plan_deliveries, event)
    targets = {d.target for d in await deliveries(db) if d.channel is Channel.EMAIL}
    assert targets == {world.persons["admin"].email, settings.management_group_email}


async def test_a_retried_plan_creates_nothing_twice(
    db, world: World, acts: NotificationActivities, receiver: WebhookReceiver, smtp: SMTPServer
) -> None:
    await subscribe_everyone(db, world, receiver)
    env = ActivityEnvironment()
    first = await env.run(acts.plan_deliveries, world.event())
    second = await env.run(acts.plan_deliveries, world.event())
    assert first == second
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 8
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 13

    await env.run(acts.deliver, first[0])
    third = await env.run(acts.plan_deliveries, world.event())
    assert third == first[1:]  # what was sent is not handed out again


async def test_email_is_received_by_the_smtp_server_once(
    db, world: World, acts: NotificationActivities, smtp: SMTPServer, settings: Settings
) -> None:
    env = ActivityEnvironment()
    ids = await env.run(acts.plan_deliveries, world.event())
    assert [await env.run(acts.deliver, i) for i in ids] == ["sent"] * len(ids)
    assert [await env.run(acts.deliver, i) for i in ids] == ["already_sent"] * len(ids)

    p = world.persons
    assert smtp.recipients() == sorted(
        [
            p["coordinator"].email,
            p["task_team_lead"].email,
            p["oversight"].email,
            settings.coordinators_group_email,
        ]
    )
    mail = next(m for m in smtp.mails if m.rcpt_tos == [p["task_team_lead"].email])
    assert mail.message["Subject"] == "Joint e-waste workshop moved to task team"
    assert mail.message["From"] == f"Synergies Tracker <{settings.smtp_from}>"
    assert mail.message["Date"] and mail.message["Message-ID"]
    assert mail.message["References"] == f"<activity-{world.activity_id}@testserver>"
    assert mail.message["List-Unsubscribe"] == "<http://testserver/app/settings/notifications>"
    text = mail.message.get_body(("plain",)).get_content()
    assert "from thematic group to task team" in text
    assert f"http://testserver/app/activities/{world.activity_id}" in text
    assert "Plan the task team stage" in text  # what the lead is asked to do
    rows = {d.id: d for d in await deliveries(db)}
    assert all(
        rows[i].status is DeliveryStatus.SENT and rows[i].attempts == 1 and rows[i].sent_at is not None
        for i in ids
    )


async def test_webhook_is_received_with_a_valid_signature(
    db, world: World, acts: NotificationActivities, receiver: WebhookReceiver
) -> None:
    await add_subscription(
        db,
        world.persons["sub-webhook"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url("/synergies"),
        webhook_secret="s3cret-for-tests-only",
    )
    env = ActivityEnvironment()
    await env.run(acts.plan_deliveries, world.event(audiences=()))
    [hook_delivery] = [d for d in await deliveries(db) if d.channel is Channel.WEBHOOK]

    assert await env.run(acts.deliver, hook_delivery.id) == "sent"
    assert await env.run(acts.deliver, hook_delivery.id) == "already_sent"

    [hook] = receiver.hooks
    assert hook.path == "/synergies"
    headers = {name.lower(): value for name, value in hook.headers.items()}
    assert headers["webhook-id"].startswith("msg_")
    assert verify_webhook("s3cret-for-tests-only", hook.headers, hook.body)
    with pytest.raises(WebhookVerificationError):
        verify_webhook("another-secret-entirely", hook.headers, hook.body)
    body = hook.json()
    assert body["delivery"] == hook_delivery.key
    assert body["type"] == "transition" and body["version"] == 1
    data = body["data"]
    assert data["subject"] == "Joint e-waste workshop moved to task team"  # the e-mail's fields
    assert [c["code"] for c in data["activity"]["conventions"]] == ["basel", "stockholm"]
    assert data["link"] == f"http://testserver/app/activities/{world.activity_id}"


async def test_a_failing_webhook_is_recorded_and_raised_never_marked_sent(
    db, world: World, acts: NotificationActivities, receiver: WebhookReceiver
) -> None:
    receiver.status = 500
    await add_subscription(
        db,
        world.persons["sub-webhook"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret="s3cret-for-tests-only",
    )
    env = ActivityEnvironment()
    [delivery_id] = await env.run(acts.plan_deliveries, world.event(audiences=()))
    with pytest.raises(RuntimeError, match="HTTP 500"):
        await env.run(acts.deliver, delivery_id)
    [row] = [d for d in await deliveries(db) if d.id == delivery_id]
    assert row.status is DeliveryStatus.RETRYING and row.attempts == 1
    assert "HTTP 500" in (row.last_error or "")

    receiver.status = 200
    assert await env.run(acts.deliver, delivery_id) == "sent"
    assert len(receiver.hooks) == 2
    [row] = [d for d in await deliveries(db) if d.id == delivery_id]
    assert row.status is DeliveryStatus.SENT and row.attempts == 2


async def test_a_webhook_to_a_private_address_is_refused_for_good(
    db, world: World, acts: NotificationActivities, receiver: WebhookReceiver, settings: Settings
) -> None:
    await add_subscription(
        db,
        world.persons["sub-webhook"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret="s3cret-for-tests-only",
    )
    env = ActivityEnvironment()
    [delivery_id] = await env.run(acts.plan_deliveries, world.event(audiences=()))
    settings.webhook_allow_loopback_targets = False
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.deliver, delivery_id)
    assert raised.value.non_retryable and raised.value.type == "DeliveryRejected"
    assert receiver.hooks == []

    await env.run(acts.mark_delivery_failed, delivery_id, "refused")
    [row] = [d for d in await deliveries(db) if d.id == delivery_id]
    assert row.status is DeliveryStatus.FAILED and row.attempts == 1 and row.last_error == "refused"


async def test_smtp_down_then_up_sends_exactly_once(
    db, world: World, acts: NotificationActivities, settings: Settings
) -> None:
    smtp = SMTPServer()  # not started: the port refuses connections
    settings.smtp_port = smtp.port
    env = ActivityEnvironment()
    ids = await env.run(acts.plan_deliveries, world.event(audiences=(Audience.LEAD,)))
    [delivery_id] = ids
    sent_before, failed_before = metric(DELIVERIES_TOTAL), metric(FAILURES_TOTAL)
    for attempt in (1, 2):
        with pytest.raises(OSError):
            await env.run(acts.deliver, delivery_id)
        [row] = [d for d in await deliveries(db) if d.id == delivery_id]
        assert row.attempts == attempt and row.status is not DeliveryStatus.SENT
        assert row.sent_at is None and row.last_error

    smtp.start()
    try:
        assert await env.run(acts.deliver, delivery_id) == "sent"
        assert await env.run(acts.deliver, delivery_id) == "already_sent"
        assert smtp.recipients() == [world.persons["task_team_lead"].email]
    finally:
        smtp.stop()
    [row] = [d for d in await deliveries(db) if d.id == delivery_id]
    assert row.status is DeliveryStatus.SENT and row.attempts == 3
    assert metric(FAILURES_TOTAL) - failed_before == 2
    assert metric(DELIVERIES_TOTAL) - sent_before == 1


async def test_mark_failed_never_overrides_a_sent_delivery(
    db, world: World, acts: NotificationActivities, smtp: SMTPServer
) -> None:
    env = ActivityEnvironment()
    [delivery_id] = await env.run(acts.plan_deliveries, world.event(audiences=(Audience.LEAD,)))
    await env.run(acts.deliver, delivery_id)
    await env.run(acts.mark_delivery_failed, delivery_id, "gave up")
    [row] = [d for d in await deliveries(db) if d.id == delivery_id]
    assert row.status is DeliveryStatus.SENT


async def test_notify_plans_and_sends_once_and_a_retry_sends_only_the_unsent(
    db, world: World, acts: NotificationActivities, settings: Settings
) -> None:
    smtp = SMTPServer()  # not started: every e-mail fails on the first attempt
    settings.smtp_port = smtp.port
    env = ActivityEnvironment()
    event = world.event(audiences=(Audience.LEAD, Audience.COORDINATORS))
    with pytest.raises(ApplicationError, match="deliveries failed"):
        await env.run(acts.notify, event)
    planned = await deliveries(db)
    emails = [d for d in planned if d.channel is Channel.EMAIL]
    assert emails and all(d.status is DeliveryStatus.RETRYING for d in emails)

    smtp.start()
    try:
        assert await env.run(acts.notify, event) == len(emails)
        assert await env.run(acts.notify, event) == 0  # a replayed attempt sends nothing again
        assert sorted(smtp.recipients()) == sorted(d.target for d in emails)
    finally:
        smtp.stop()
    after = await deliveries(db)
    assert [d.id for d in after] == [d.id for d in planned]  # planned once
    assert all(d.status is DeliveryStatus.SENT for d in after)


async def test_an_events_mails_share_one_connection_and_those_out_of_time_wait_unattempted(
    db, world: World, acts: NotificationActivities, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = ActivityEnvironment()
    event = world.event()
    monkeypatch.setattr(notifications, "SEND_BUDGET", timedelta(seconds=-1))  # out of time at once
    with pytest.raises(ApplicationError, match="no time left"):
        await env.run(acts.notify, event)
    emails = [d for d in await deliveries(db) if d.channel is Channel.EMAIL]
    assert smtp.mails == []
    assert all(d.status is DeliveryStatus.PENDING and d.attempts == 0 for d in emails)  # not attempted

    monkeypatch.undo()
    assert await env.run(acts.notify, event) == len(emails) == 4
    assert len(smtp.mails) == 4 and len({mail.peer for mail in smtp.mails}) == 1


async def test_mark_event_failed_marks_only_what_is_unsent(
    db, world: World, acts: NotificationActivities, smtp: SMTPServer
) -> None:
    env = ActivityEnvironment()
    lead_event = world.event(audiences=(Audience.LEAD,))
    await env.run(acts.notify, lead_event)
    await env.run(acts.mark_event_failed, lead_event, "gave up")
    assert all(d.status is DeliveryStatus.SENT for d in await deliveries(db))

    smtp.stop()
    other = world.event("activity-1/ev-2", audiences=(Audience.LEAD,))
    await env.run(acts.mark_event_failed, other, "smtp gone for days")
    failed = [d for d in await deliveries(db) if d.status is DeliveryStatus.FAILED]
    assert [d.target for d in failed] == [world.persons["task_team_lead"].email]
    assert failed[0].last_error == "smtp gone for days"


def test_delivery_retry_policy() -> None:
    assert DELIVERY_RETRY_POLICY.initial_interval.total_seconds() == 5
    assert DELIVERY_RETRY_POLICY.backoff_coefficient == 2.0
    assert DELIVERY_RETRY_POLICY.maximum_interval.total_seconds() == 600  # type: ignore[union-attr]
    assert DELIVERY_RETRY_POLICY.maximum_attempts == 30


# --- through a real Temporal worker ---------------------------------------------------------


async def test_workflow_retries_until_smtp_is_back_and_sends_each_mail_once(
    db,
    world: World,
    acts: NotificationActivities,
    settings: Settings,
    receiver: WebhookReceiver,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    await add_subscription(
        db,
        world.persons["sub-webhook"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret="s3cret-for-tests-only",
    )
    smtp = SMTPServer()  # down at first
    settings.smtp_port = smtp.port
    event = world.event(key=f"wf-{uuid.uuid4().hex}/ev-1")
    client = temporal_env.client
    async with Worker(
        client, task_queue=task_queue, workflows=[NotifyWorkflow], activities=flow_activities(acts)
    ):
        handle = await client.start_workflow(
            NotifyWorkflow.run,
            NotifyInput(event),
            id=f"notify-{uuid.uuid4()}",
            task_queue=task_queue,
        )

        async def failed_twice() -> bool:
            rows = [d for d in await deliveries(db) if d.channel is Channel.EMAIL]
            return bool(rows) and all(d.attempts >= 2 for d in rows)

        await wait_for(failed_twice)
        assert len(receiver.hooks) == 1  # the webhook did not wait for the mail server
        smtp.start()
        try:
            results = await handle.result()
            assert results and set(results) == {"sent"}
            # The same event again (a retried plan): nothing new to send.
            again = await client.execute_workflow(
                NotifyWorkflow.run,
                NotifyInput(event),
                id=f"notify-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            assert again == []
            p = world.persons
            assert smtp.recipients() == sorted(
                [
                    p["coordinator"].email,
                    p["task_team_lead"].email,
                    p["oversight"].email,
                    settings.coordinators_group_email,
                ]
            )
        finally:
            smtp.stop()
    assert len(receiver.hooks) == 1
    rows = await deliveries(db)
    assert all(d.status is DeliveryStatus.SENT for d in rows)
    assert all(d.attempts >= 3 for d in rows if d.channel is Channel.EMAIL)


async def test_workflow_marks_a_delivery_failed_after_the_last_attempt(
    db,
    world: World,
    acts: NotificationActivities,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    settings.smtp_port = SMTPServer().port  # never started
    event = world.event(key=f"wf-{uuid.uuid4().hex}/ev-1", audiences=(Audience.LEAD,))
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[NotifyWorkflow],
        activities=flow_activities(acts),
    ):
        results = await temporal_env.client.execute_workflow(
            NotifyWorkflow.run,
            NotifyInput(event, retry_initial_ms=50, retry_maximum_attempts=3),
            id=f"notify-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert results == ["failed"]
    [row] = [d for d in await deliveries(db) if d.channel is Channel.EMAIL]
    assert row.status is DeliveryStatus.FAILED and row.attempts == 3
    assert row.sent_at is None and row.last_error


async def test_a_batch_sends_what_it_can_fails_for_good_what_it_must_and_retries_the_rest(
    db,
    world: World,
    acts: NotificationActivities,
    receiver: WebhookReceiver,
    smtp: SMTPServer,
    settings: Settings,
) -> None:
    await add_subscription(
        db,
        world.persons["sub-webhook"],
        channel=Channel.WEBHOOK,
        webhook_url=receiver.url(),
        webhook_secret="s3cret-for-tests-only",
    )
    env = ActivityEnvironment()
    ids = await env.run(acts.plan_deliveries, world.event())
    settings.webhook_allow_loopback_targets = False  # the webhook is now refused for good
    smtp.stop()
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.deliver_batch, ids)
    assert not raised.value.non_retryable
    rows = {d.id: d for d in await deliveries(db) if d.id in ids}
    webhook = next(d for d in rows.values() if d.channel is Channel.WEBHOOK)
    assert webhook.status is DeliveryStatus.FAILED
    assert {d.status for d in rows.values() if d.channel is Channel.EMAIL} == {DeliveryStatus.RETRYING}

    smtp.start()
    sent = await env.run(acts.deliver_batch, ids)
    assert sent == len(ids) - 1 and receiver.hooks == []
    assert await env.run(acts.deliver_batch, ids) == 0  # a replay sends nothing twice
    assert len(smtp.mails) == sent
