"""The lifecycle workflow on the time-skipping server, against the real database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.errors import DomainError
from core.stages import Role, Stage
from models import Activity, Delivery, Notification, ReminderEvent, Transition
from services import activities
from tests.activity_support import add_activity
from tests.lifecycle_support import (
    add_meeting,
    add_pilot,
    add_task_team,
    running_worker,
)
from tests.servers_support import wait_for
from workflows import commands
from workflows.lifecycle import ActivityLifecycle
from workflows.messages import EditRequest, MoveRequest


@pytest.fixture
def time_settings(settings, smtp):
    return settings.model_copy(update={"temporal_search_attributes": False})


async def move(
    client,
    settings,
    activity_id,
    db,
    to,
    version,
    *,
    role=Role.COORDINATOR,
    reason=None,
    meeting_id=None,
    actor_id=None,
):
    async with db() as session:
        context = (await activities.move_contexts(session, [(activity_id, meeting_id)]))[
            (activity_id, meeting_id)
        ]
    return await commands.send_update(
        client,
        settings,
        activity_id,
        ActivityLifecycle.move,
        MoveRequest(
            to=to,
            actor_id=actor_id or 1,
            role=role,
            expected_version=version,
            facts=context.facts,
            reason=reason,
            meeting_id=meeting_id,
            target_meeting_deadline=context.target_meeting_deadline,
        ),
    )


async def test_full_lifecycle_records_every_transition(time_env, db, people, time_settings):
    now = await time_env.get_current_time()
    lead = people[Role.TASK_TEAM_LEAD]
    activity = await add_activity(db, entered_at=now, lead_id=lead.id)
    async with running_worker(time_env.client, time_settings, db):
        await commands.start_workflow(time_env.client, time_settings, activity)
        meeting_id = await add_meeting(db, (now + timedelta(days=400)).date())
        with pytest.raises(DomainError) as refused:
            await move(time_env.client, time_settings, activity.id, db, Stage.TASK_TEAM, activity.version)
        assert "task team with a lead" in refused.value.detail
        team_id = await add_task_team(db, lead.id, (now + timedelta(days=200)).date())
        outcome = await edit(
            time_env.client, time_settings, activity.id, activity.version, task_team_id=team_id
        )
        outcome = await move(
            time_env.client, time_settings, activity.id, db, Stage.TASK_TEAM, outcome.version
        )
        assert outcome.stage is Stage.TASK_TEAM and outcome.seq == 2
        assert outcome.due_on == (now + timedelta(days=180)).date()

        await add_pilot(db, activity.id)
        outcome = await move(
            time_env.client, time_settings, activity.id, db, Stage.PILOT_PROJECT, outcome.version
        )
        with pytest.raises(DomainError) as refused:
            await move(time_env.client, time_settings, activity.id, db, Stage.REPORT_TO_COP, outcome.version)
        assert refused.value.code == "guard_failed" and "lessons learned" in refused.value.detail

        with pytest.raises(DomainError) as stale:
            await edit(
                time_env.client, time_settings, activity.id, outcome.version - 1, target_meeting_id=meeting_id
            )
        assert stale.value.code == "stale_version" and stale.value.status == 409
        outcome = await edit(
            time_env.client, time_settings, activity.id, outcome.version, target_meeting_id=meeting_id
        )
        await add_pilot_lessons(db, activity.id)
        outcome = await move(
            time_env.client, time_settings, activity.id, db, Stage.REPORT_TO_COP, outcome.version
        )
        assert outcome.due_on == (now + timedelta(days=400 - 42)).date()
        with pytest.raises(DomainError) as not_yet:
            await move(
                time_env.client,
                time_settings,
                activity.id,
                db,
                Stage.CLOSED,
                outcome.version,
                meeting_id=meeting_id,
            )
        assert not_yet.value.code == "meeting_not_open"
        # Closed at a meeting that has opened (the report went to an earlier one than targeted).
        # "Opened" is by the API's clock (today), which the time-skipping clock may have passed.
        opened_on = min(now.date(), date.today()) - timedelta(days=2)
        meeting_id = await add_meeting(db, opened_on, code="BC-COP9")
        outcome = await move(
            time_env.client,
            time_settings,
            activity.id,
            db,
            Stage.CLOSED,
            outcome.version,
            meeting_id=meeting_id,
        )
        assert outcome.stage is Stage.CLOSED
        result = await time_env.client.get_workflow_handle_for(
            ActivityLifecycle.run, time_settings.workflow_id(activity.id)
        ).result()
        assert result.stage is Stage.CLOSED
        # The relay sends the events the moves wrote to the outbox.
        await wait_for(lambda: feed_has(db, lead.id, "transition", 4), seconds=30)

    async with db() as session:
        rows = list(
            await session.scalars(
                select(Transition).where(Transition.activity_id == activity.id).order_by(Transition.seq)
            )
        )
        stored = await session.get_one(Activity, activity.id)
    assert [(r.seq, r.from_stage, r.to_stage) for r in rows] == [
        (1, None, Stage.THEMATIC_GROUP),
        (2, Stage.THEMATIC_GROUP, Stage.TASK_TEAM),
        (3, Stage.TASK_TEAM, Stage.PILOT_PROJECT),
        (4, Stage.PILOT_PROJECT, Stage.REPORT_TO_COP),
        (5, Stage.REPORT_TO_COP, Stage.CLOSED),
    ]
    assert stored.stage is Stage.CLOSED and stored.closed_at_meeting_id == meeting_id
    assert await feed_has(db, lead.id, "transition", 4)


async def feed_has(db, person_id, event_type, count) -> bool:
    """`count` entries of `event_type` in the person's feed, no more."""
    async with db() as session:
        feed = list(
            await session.scalars(select(Notification.event_type).where(Notification.person_id == person_id))
        )
    assert feed.count(event_type) <= count, feed
    return feed.count(event_type) == count


async def stop(env, settings, activity_id):
    """A workflow left running would hold the shared time-skipping clock for later tests."""
    await env.client.get_workflow_handle(settings.workflow_id(activity_id)).terminate("test over")


async def edit(client, settings, activity_id, version, **changes):
    return await commands.send_update(
        client,
        settings,
        activity_id,
        ActivityLifecycle.edit,
        EditRequest(actor_id=1, expected_version=version, changes=changes),
    )


async def add_pilot_lessons(db, activity_id):
    from models import PilotProject

    async with db() as session, session.begin():
        for pilot in await session.scalars(
            select(PilotProject).where(PilotProject.activity_id == activity_id)
        ):
            pilot.lessons_learned = "Regional centres deliver best when involved from the start."


async def test_reminders_fire_at_simulated_times_and_escalate_weekly(time_env, db, people, time_settings):
    now = await time_env.get_current_time()
    lead = people[Role.TASK_TEAM_LEAD]
    due = (now + timedelta(days=20)).date()
    activity = await add_activity(db, entered_at=now, lead_id=lead.id, due_on=due)
    async with running_worker(time_env.client, time_settings, db):
        await commands.start_workflow(time_env.client, time_settings, activity)
        try:
            await time_env.sleep(timedelta(days=20 + 45))
        finally:
            await stop(time_env, time_settings, activity.id)
        await wait_for(lambda: feed_has(db, lead.id, "escalation", 7), seconds=30)
        async with db() as session:
            fired = list(
                await session.scalars(
                    select(ReminderEvent)
                    .where(ReminderEvent.activity_id == activity.id)
                    .order_by(ReminderEvent.fired_at)
                )
            )
    labels = [r.kind for r in fired]
    assert labels == [
        "before-14",
        "before-3",
        "due+0",
        "escalation+7",
        "escalation+14",
        "escalation+21",
        "escalation+28",
        "management+30",
        "management+35",
        "management+42",
    ]
    for reminder in fired:
        offset = int(reminder.kind.split("+")[-1] if "+" in reminder.kind else reminder.kind.split("-")[-1])
        sign = -1 if "-" in reminder.kind else 1
        assert reminder.fired_at.date() == due + timedelta(days=sign * offset)
    async with db() as session:
        escalation_targets = set(
            await session.scalars(select(Delivery.target).where(Delivery.key.contains("/management+30/")))
        )
    assert time_settings.management_group_email in escalation_targets
    assert time_settings.coordinators_group_email in escalation_targets


async def test_long_lived_workflow_continues_as_new_keeping_its_state(time_env, db, people, time_settings):
    now = await time_env.get_current_time()
    activity = await add_activity(
        db, entered_at=now, lead_id=people[Role.TASK_TEAM_LEAD].id, due_on=(now + timedelta(days=60)).date()
    )
    workflow_id = time_settings.workflow_id(activity.id)
    async with running_worker(time_env.client, time_settings, db):
        state = commands.initial_state(activity, time_settings)
        state.max_updates_per_run = 2
        await time_env.client.start_workflow(
            ActivityLifecycle.run, state, id=workflow_id, task_queue=time_settings.temporal_task_queue
        )
        first_run = (await time_env.client.get_workflow_handle(workflow_id).describe()).run_id
        version = activity.version
        for n in range(5):
            version = (
                await edit(time_env.client, time_settings, activity.id, version, description=f"revision {n}")
            ).version
        try:
            described = await time_env.client.get_workflow_handle(workflow_id).describe()
            current = await time_env.client.get_workflow_handle(workflow_id).query(ActivityLifecycle.current)
        finally:
            await stop(time_env, time_settings, activity.id)
    assert described.run_id != first_run
    assert current.version == version and current.due_on == activity.stage_due_on
    async with db() as session:
        assert (await session.get_one(Activity, activity.id)).description == "revision 4"


async def fired_reminders(db, activity_id):
    async with db() as session:
        rows = await session.scalars(
            select(ReminderEvent)
            .where(ReminderEvent.activity_id == activity_id, ReminderEvent.kind != "response")
            .order_by(ReminderEvent.fired_at)
        )
        return [(row.kind, row.due_on) for row in rows]


async def test_moving_the_due_date_reschedules_and_leaving_the_stage_cancels(
    time_env, db, people, time_settings
):
    now = await time_env.get_current_time()
    old_due, new_due = (now + timedelta(days=20)).date(), (now + timedelta(days=40)).date()
    activity = await add_activity(db, entered_at=now, lead_id=people[Role.TASK_TEAM_LEAD].id, due_on=old_due)
    async with running_worker(time_env.client, time_settings, db):
        await commands.start_workflow(time_env.client, time_settings, activity)
        await time_env.sleep(timedelta(days=7))
        outcome = await edit(
            time_env.client, time_settings, activity.id, activity.version, stage_due_on=new_due
        )
        await time_env.sleep(timedelta(days=18))
        assert await fired_reminders(db, activity.id) == [("before-14", old_due)]
        await time_env.sleep(timedelta(days=16))
        await move(
            time_env.client,
            time_settings,
            activity.id,
            db,
            Stage.WITHDRAWN,
            outcome.version,
            reason="merged into another activity",
        )
        await time_env.sleep(timedelta(days=30))
    assert await fired_reminders(db, activity.id) == [
        ("before-14", old_due),
        ("before-14", new_due),
        ("before-3", new_due),
        ("due+0", new_due),
    ]


async def test_a_snooze_holds_lead_reminders_until_its_date(time_env, db, people, time_settings):
    from workflows.messages import SnoozeRequest

    now = await time_env.get_current_time()
    due = (now + timedelta(days=20)).date()
    lead = people[Role.TASK_TEAM_LEAD]
    activity = await add_activity(db, entered_at=now, lead_id=lead.id, due_on=due)
    async with running_worker(time_env.client, time_settings, db):
        await commands.start_workflow(time_env.client, time_settings, activity)
        await commands.send_update(
            time_env.client,
            time_settings,
            activity.id,
            ActivityLifecycle.snooze,
            SnoozeRequest(lead.id, (now + timedelta(days=10)).date(), "mission"),
        )
        try:
            await time_env.sleep(timedelta(days=18))
        finally:
            await stop(time_env, time_settings, activity.id)
    assert await fired_reminders(db, activity.id) == [("snoozed-10", due), ("before-3", due)]
