"""A move must not meet "another change to this activity is in progress" (409) for work the
client already has the answer of (tests/platform/test_process_faults.py failed so once):

- a move answered from the database while its update is still pending in the engine (what a
  worker kill leaves: the write committed, the workflow task lost, the API's deadline passed),
  and the client's next move from the version that answer gave: the engine hands both updates to
  the new worker in one workflow task, the first takes the workflow's lock, and the next must
  wait for it rather than be refused;
- the `reconcile` signal sent with such an answer: a move arriving while the workflow re-reads
  the database waits for the read.

Real dev server, worker and database. Before the fix both moves got the 409.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from core.stages import Role, Stage
from models import Transition
from services.accounts import Principal
from services.activities import move_contexts
from tests.lifecycle.test_move_idempotency import lose_a_write, move, workflow_state
from tests.lifecycle_support import create, running_worker
from tests.servers_support import wait_for
from workflows.commands import MoveCommand, _prepare, move_body_hash, move_request_key, send_update
from workflows.lifecycle import ActivityLifecycle


async def test_the_next_move_waits_for_a_pending_update_it_has_seen_the_write_of(
    app, client, people, team_and_meeting, db, temporal_env, settings
):
    app.state.temporal = temporal_env.client
    coordinator = people.headers(Role.COORDINATOR)
    async with running_worker(temporal_env.client, settings, db):
        activity = await create(client, people, task_team_id=team_and_meeting["team_id"])
        await workflow_state(temporal_env, settings, activity["id"])  # its first task has run

    # No worker: the first move's update waits in the engine past the API's deadline.
    settings.move_deadline_seconds = 2
    first = await move(client, coordinator, activity["id"], activity["version"], "task_team", "go", key="k-1")
    assert first.status_code == 503, first.text
    assert first.json()["outcome"] == "unknown"

    # Its write committed on a worker that then died; the retry learns it from the database.
    command = MoveCommand(to=Stage.TASK_TEAM, expected_version=activity["version"], reason="go")
    lost = await lose_a_write(db, activity["id"], "k-1", command, people[Role.COORDINATOR].id)
    retried = await move(
        client, coordinator, activity["id"], activity["version"], "task_team", "go", key="k-1"
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["transition"]["id"] == lost.id

    # The next move, from the version the answer gave, queues behind the first update.
    settings.move_deadline_seconds = 60
    version = retried.json()["activity"]["version"]
    following = asyncio.create_task(
        move(client, coordinator, activity["id"], version, "thematic_group", "rework", key="k-2")
    )
    await asyncio.sleep(1)  # admitted by the engine before a worker polls
    assert not following.done()

    async with running_worker(temporal_env.client, settings, db):
        response = await asyncio.wait_for(following, 60)
        assert response.status_code == 200, response.text
        assert response.json()["transition"]["reason"] == "rework"

        async with db() as session:
            log = list(
                await session.scalars(
                    select(Transition.to_stage)
                    .where(Transition.activity_id == activity["id"])
                    .order_by(Transition.seq)
                )
            )
        assert [str(stage) for stage in log] == ["thematic_group", "task_team", "thematic_group"]
        state = await workflow_state(temporal_env, settings, activity["id"])
        assert (state.stage, state.seq) == (Stage.THEMATIC_GROUP, 3)


async def workflow_task_completed_after_signal(handle: WorkflowHandle) -> bool:
    signalled = False
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signalled = True
        elif signalled and event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return True
    return False


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a lock readers wait for
async def test_a_move_waits_for_the_workflow_rereading_the_database(
    app, client, people, team_and_meeting, db, temporal_env, settings
):
    """A `reconcile` signal (sent with every answer taken from the database) makes the workflow
    re-read the activity; a move arriving meanwhile is no competing change: it waits for the
    read (here held past a workflow-task heartbeat by a table lock) and goes through."""
    app.state.temporal = temporal_env.client
    coordinator = people[Role.COORDINATOR]
    principal = Principal(coordinator.id, Role.COORDINATOR, coordinator.name, coordinator.email)
    async with running_worker(temporal_env.client, settings, db):
        activity = await create(client, people, task_team_id=team_and_meeting["team_id"])
        command = MoveCommand(to=Stage.TASK_TEAM, expected_version=activity["version"], reason="go")
        async with db() as session:
            context = (await move_contexts(session, [(activity["id"], None)]))[(activity["id"], None)]
        # (the API's pre-check, done before the lock: the update alone meets the workflow's read)
        request = _prepare(principal, context, command, move_body_hash(command))
        handle = temporal_env.client.get_workflow_handle(settings.workflow_id(activity["id"]))
        async with db() as session, session.begin():
            await session.execute(text("LOCK TABLE transitions IN ACCESS EXCLUSIVE MODE"))
            await handle.signal(ActivityLifecycle.reconcile)
            await asyncio.sleep(1)  # the read has begun, and waits for the lock
            moving = asyncio.create_task(
                send_update(
                    temporal_env.client,
                    settings,
                    activity["id"],
                    ActivityLifecycle.move,
                    request,
                    update_id=move_request_key("k-1"),
                )
            )
            # The worker completes the workflow task to keep it alive (at 80 % of its 10 s
            # timeout) and the next task hands it the update, with the read still in progress.
            await wait_for(lambda: workflow_task_completed_after_signal(handle), seconds=30)
            await asyncio.sleep(2)
        outcome = await asyncio.wait_for(moving, 60)  # before: 409 "another change ... in progress"
        assert (outcome.stage, outcome.seq) == (Stage.TASK_TEAM, 2)
        state = await workflow_state(temporal_env, settings, activity["id"])
        assert (state.stage, state.seq, state.version) == (Stage.TASK_TEAM, 2, outcome.version)
