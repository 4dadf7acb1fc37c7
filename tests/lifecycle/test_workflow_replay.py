"""Replay: the lifecycle workflow must replay the histories of runs begun by earlier versions of its
code (a changed command order would break every running activity), and its own.

`tests/lifecycle/histories/*.json` are histories recorded from earlier versions. To add them before
changing the workflow's commands, run this module with SYNERGIES_RECORD_HISTORY=<absolute path of
a new file.json>: the run through the API writes its history there, the run with reminders next to
it (`<file>_reminders.json`).
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.stages import Role
from models import ReminderEvent
from tests.activity_support import add_activity
from tests.lifecycle_support import add_team_and_meeting, fire_reminder, running_worker
from workflows import commands
from workflows.client import DATA_CONVERTER
from workflows.lifecycle import ActivityLifecycle

HISTORIES = Path(__file__).parent / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=[ActivityLifecycle], data_converter=DATA_CONVERTER)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_histories_of_earlier_versions_replay(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    await replayer().replay_workflow(history)


def test_a_history_of_an_earlier_version_is_stored() -> None:
    assert list(HISTORIES.glob("*.json")), "record one with SYNERGIES_RECORD_HISTORY"


@pytest.mark.usefixtures("lifecycle_worker")
async def test_a_run_replays_its_own_history(app, client, people, reference_data, settings) -> None:
    """Create, edit, move, snooze and acknowledge; the recorded history replays without a
    nondeterminism error (and is saved when SYNERGIES_RECORD_HISTORY names a file)."""
    world = await add_team_and_meeting(reference_data, people)
    coordinator, lead = people.headers(Role.COORDINATOR), people.headers(Role.TASK_TEAM_LEAD)
    created = await client.post(
        "/activities",
        headers=coordinator,
        json={
            "title": "Regional synergies workshop, Asia",
            "provisions": ["BRS/SYN/I.A.4"],
            "lead_id": people[Role.TASK_TEAM_LEAD].id,
        },
    )
    assert created.status_code == 201, created.text
    activity = created.json()
    edited = await client.patch(
        f"/activities/{activity['id']}",
        json={"task_team_id": world["team_id"], "target_meeting_id": world["meeting_id"]},
        headers=coordinator | {"If-Match": f'W/"{activity["version"]}"'},
    )
    assert edited.status_code == 200, edited.text
    moved = await client.post(
        f"/activities/{activity['id']}/transitions",
        headers=coordinator,
        json={"to": "task_team", "expected_version": edited.json()["version"]},
    )
    assert moved.status_code == 200, moved.text
    snoozed = await client.post(
        f"/activities/{activity['id']}/reminders/snooze",
        headers=lead,
        json={"until": str(date.today() + timedelta(days=10))},
    )
    assert snoozed.status_code == 200, snoozed.text
    await fire_reminder(reference_data, activity["id"], "task_team")
    acknowledged = await client.post(
        f"/activities/{activity['id']}/reminders/acknowledge", headers=lead, json={}
    )
    assert acknowledged.status_code == 200, acknowledged.text

    handle = app.state.temporal.get_workflow_handle(settings.workflow_id(activity["id"]))
    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
    if target := os.environ.get("SYNERGIES_RECORD_HISTORY"):
        await asyncio.to_thread(Path(target).write_text, history.to_json())


async def test_a_run_with_reminders_replays_its_own_history(time_env, db, people, settings, smtp) -> None:
    """Reminders on durable timers, each after a read of the activity's row, and their
    notifications: the history replays (and is saved beside the API run's when
    SYNERGIES_RECORD_HISTORY names a file)."""
    settings = settings.model_copy(update={"temporal_search_attributes": False})
    now = await time_env.get_current_time()
    lead = people[Role.TASK_TEAM_LEAD]
    activity = await add_activity(
        db, title="Joint workshop", entered_at=now, lead_id=lead.id, due_on=(now + timedelta(days=5)).date()
    )
    async with running_worker(time_env.client, settings, db):
        await commands.start_workflow(time_env.client, settings, activity)
        handle = time_env.client.get_workflow_handle(settings.workflow_id(activity.id))
        try:
            await time_env.sleep(timedelta(days=8))
            history = await handle.fetch_history()
        finally:
            await handle.terminate("test over")  # it would hold the time-skipping clock
    async with db() as session:
        fired = list(
            await session.scalars(select(ReminderEvent.kind).where(ReminderEvent.activity_id == activity.id))
        )
    assert sorted(fired) == ["before-3", "due+0"]
    await replayer().replay_workflow(history)
    if target := os.environ.get("SYNERGIES_RECORD_HISTORY"):
        path = Path(target)
        await asyncio.to_thread(path.with_name(f"{path.stem}_reminders.json").write_text, history.to_json())
