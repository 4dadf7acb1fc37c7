"""Many simultaneous moves through the API, against the real dev server, worker and database."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from core.stages import Role
from models import Activity, Transition
from tests.lifecycle_support import create, move, patch
from workflows import commands
from workflows.lifecycle import ActivityLifecycle

pytestmark = pytest.mark.usefixtures("lifecycle_worker")

CONCURRENCY = 50


async def agree(client: Any, people: Any, db: Any, settings: Any, app: Any, activity_id: int) -> dict:
    """The transition log is 1..n without gap or duplicate, and row and workflow say the same."""
    log = (
        await client.get(f"/activities/{activity_id}/transitions", headers=people.headers(Role.OVERSIGHT))
    ).json()["items"]
    seqs = [t["seq"] for t in log]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    async with db() as session:
        row = await session.get_one(Activity, activity_id)
        stored = list(
            await session.scalars(select(Transition.seq).where(Transition.activity_id == activity_id))
        )
    assert sorted(stored) == seqs and len(set(stored)) == len(stored)
    handle = app.state.temporal.get_workflow_handle(settings.workflow_id(activity_id))
    state = await handle.query(ActivityLifecycle.current)
    assert (row.stage, row.version, row.transition_count, row.stage_due_on) == (
        state.stage.value,
        state.version,
        state.seq,
        state.due_on,
    )
    assert row.transition_count == len(seqs)
    return {"stage": row.stage, "version": row.version, "seq": len(seqs)}


async def test_fifty_conflicting_moves_one_wins_per_version(
    client, people, team_and_meeting, db, settings, app
):
    activity = await create(client, people)
    activity = await patch(client, people, activity, task_team_id=team_and_meeting["team_id"])
    rounds = [
        ("task_team", {}),
        ("thematic_group", {"reason": "rework"}),
        ("withdrawn", {"reason": "merged"}),
    ]
    for target, extra in rounds:
        responses = await asyncio.gather(
            *(move(client, people, activity, target, **extra) for _ in range(CONCURRENCY))
        )
        statuses = Counter(r.status_code for r in responses)
        odd = [r.text for r in responses if r.status_code not in (200, 409)][:3]
        assert statuses == {200: 1, 409: CONCURRENCY - 1}, (target, statuses, odd)
        for response in responses:
            if response.status_code == 409:
                assert response.headers["content-type"].startswith("application/problem+json")
        winner = next(r for r in responses if r.status_code == 200).json()
        activity = winner["activity"]
        state = await agree(client, people, db, settings, app, activity["id"])
        assert state["stage"] == target and state["version"] == activity["version"]
    assert state["seq"] == 1 + len(rounds)


async def test_fifty_moves_over_fifty_activities_all_succeed(
    client, people, team_and_meeting, db, settings, app
):
    activities = [await create(client, people, title=f"Activity {n}") for n in range(CONCURRENCY)]
    responses = await asyncio.gather(
        *(move(client, people, activity, "withdrawn", reason="merged") for activity in activities)
    )
    assert [r.status_code for r in responses] == [200] * CONCURRENCY, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    for activity in activities:
        state = await agree(client, people, db, settings, app, activity["id"])
        assert state == {"stage": "withdrawn", "version": state["version"], "seq": 2}


async def test_a_move_that_never_gets_its_turn_is_refused_and_changes_nothing(
    client, people, team_and_meeting, db, settings, app, monkeypatch
):
    """Updates to one workflow take turns in the API process; a request still waiting for its
    turn at the deadline was never sent, so it is refused with 429 (retry), not 503 (unknown)."""
    activity = await create(client, people)
    activity = await patch(client, people, activity, task_team_id=team_and_meeting["team_id"])
    monkeypatch.setattr(settings, "move_deadline_seconds", 0.5)
    turn = commands._turn(settings.workflow_id(activity["id"]))
    async with turn:  # another change to this activity, still in flight
        refused = await move(client, people, activity, "task_team")
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "too_many_updates" and refused.headers["retry-after"] == "1"
    state = await agree(client, people, db, settings, app, activity["id"])
    assert (state["stage"], state["version"]) == ("thematic_group", activity["version"])
    moved = await move(client, people, activity, "task_team")
    assert moved.status_code == 200, moved.text
