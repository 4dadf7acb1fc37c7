"""Replay: the lifecycle workflow must replay the histories of runs begun by earlier versions of its
code (a changed command order would break every running activity), and its own.

`tests/lifecycle/histories/*.json` are histories recorded from earlier versions. To add one before changing
the workflow's commands, run this module with SYNERGIES_RECORD_HISTORY=<file.json>: the recording
test writes the history it produced there.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.stages import Role
from tests.lifecycle_support import add_team_and_meeting, fire_reminder
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
