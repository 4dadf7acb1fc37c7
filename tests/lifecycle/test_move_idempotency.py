"""A move's request identity, in process against a real dev server, worker and database:

- a retried Idempotency-Key returns its own recorded move; another body or another person gets 422;
- a write whose workflow task was lost (committed, absent from the history) is adopted by the
  workflow at once: the next move goes through, the lost request's retry gets its own move, and
  nothing is left for `synergies check --repair`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.stages import Role, Stage
from models import Activity, Person, Transition
from services.tokens import issue_token
from services.transitions import TransitionRecord, record_transition
from tests.lifecycle_support import create
from tests.servers_support import wait_for
from workflows.commands import MoveCommand, move_body_hash, move_request_key
from workflows.messages import LifecycleState

pytestmark = pytest.mark.usefixtures("lifecycle_worker")


async def move(client, headers, activity_id, version, to, reason=None, key=None):
    return await client.post(
        f"/activities/{activity_id}/transitions",
        json={"to": to, "expected_version": version, "reason": reason},
        headers=headers | ({"Idempotency-Key": key} if key else {}),
    )


async def workflow_state(temporal_env, settings, activity_id) -> LifecycleState:
    handle = temporal_env.client.get_workflow_handle(settings.workflow_id(activity_id))
    return await handle.query("current", result_type=LifecycleState)


async def test_a_retried_key_returns_its_own_move_and_a_reused_key_is_refused(
    client, people, team_and_meeting, db
):
    coordinator = people.headers(Role.COORDINATOR)
    activity = await create(client, people, task_team_id=team_and_meeting["team_id"])
    first = await move(client, coordinator, activity["id"], activity["version"], "task_team", "go", key="k-1")
    assert first.status_code == 200, first.text

    again = await move(client, coordinator, activity["id"], activity["version"], "task_team", "go", key="k-1")
    assert again.status_code == 200, again.text
    assert again.json()["transition"] == first.json()["transition"]

    other_body = await move(
        client, coordinator, activity["id"], activity["version"], "task_team", "another reason", key="k-1"
    )
    assert other_body.status_code == 422, other_body.text
    assert other_body.json()["code"] == "idempotency_key_reused"

    async with db() as session, session.begin():
        someone = Person(name="Other Coordinator", email="other@example.org", role=Role.COORDINATOR)
        session.add(someone)
        await session.flush()
        _, token = await issue_token(session, someone, name="test")
    other_person = await move(
        client,
        {"Authorization": f"Bearer {token}"},
        activity["id"],
        activity["version"],
        "task_team",
        "go",
        key="k-1",
    )
    assert other_person.status_code == 422, other_person.text
    assert "another person" in other_person.json()["detail"]

    async with db() as session:
        count = len(
            list(await session.scalars(select(Transition).where(Transition.activity_id == activity["id"])))
        )
    assert count == 2  # created + the one move


async def lose_a_write(db, activity_id: int, key: str, command: MoveCommand, actor_id: int) -> Transition:
    """What a worker leaves when it dies after a move's local activity committed and before its
    workflow task completed: the row is written, the history knows nothing of it."""
    async with db() as session, session.begin():
        row = await session.get_one(Activity, activity_id)
        transition, _ = await record_transition(
            session,
            TransitionRecord(
                activity_id=activity_id,
                seq=row.transition_count + 1,
                from_stage=Stage(row.stage),
                to_stage=command.to,
                actor_id=actor_id,
                at=datetime.now(UTC),
                reason=command.reason,
                expected_version=command.expected_version,
                request_key=move_request_key(key),
                request_hash=move_body_hash(command),
            ),
        )
        return transition


async def test_a_lost_write_is_adopted_by_the_next_move(
    client, people, team_and_meeting, db, temporal_env, settings, smtp
):
    coordinator = people.headers(Role.COORDINATOR)
    activity = await create(client, people, task_team_id=team_and_meeting["team_id"])
    command = MoveCommand(to=Stage.TASK_TEAM, expected_version=activity["version"], reason="lost answer")
    lost = await lose_a_write(db, activity["id"], "lost", command, people[Role.COORDINATOR].id)

    # A client that reads the activity sees the lost move and moves on from it.
    current = (await client.get(f"/activities/{activity['id']}", headers=coordinator)).json()
    assert current["stage"] == "task_team"
    response = await move(client, coordinator, activity["id"], current["version"], "thematic_group", "rework")
    assert response.status_code == 200, response.text
    assert response.json()["transition"]["reason"] == "rework"
    assert response.json()["transition"]["id"] != lost.id

    state = await workflow_state(temporal_env, settings, activity["id"])
    async with db() as session:
        row = await session.get_one(Activity, activity["id"])
    assert (state.stage, state.seq, state.version) == (Stage(row.stage), row.transition_count, row.version)

    # The lost request, retried with its key, gets its own move (not the rework).
    retry = await move(
        client, coordinator, activity["id"], activity["version"], "task_team", "lost answer", key="lost"
    )
    assert retry.status_code == 200, retry.text
    assert retry.json()["transition"]["id"] == lost.id

    # The adopted move was announced like any other (once).
    await wait_for(
        lambda: any("moved to task team" in str(m.message["Subject"]) for m in smtp.mails),
        seconds=20,
    )


async def test_a_lost_write_is_adopted_when_its_request_is_retried(
    client, people, team_and_meeting, db, temporal_env, settings
):
    coordinator = people.headers(Role.COORDINATOR)
    activity = await create(client, people, task_team_id=team_and_meeting["team_id"])
    command = MoveCommand(to=Stage.TASK_TEAM, expected_version=activity["version"], reason="go")
    lost = await lose_a_write(db, activity["id"], "retry-me", command, people[Role.COORDINATOR].id)

    retry = await move(
        client, coordinator, activity["id"], activity["version"], "task_team", "go", key="retry-me"
    )
    assert retry.status_code == 200, retry.text
    assert retry.json()["transition"]["id"] == lost.id

    async def adopted() -> bool:
        state = await workflow_state(temporal_env, settings, activity["id"])
        return state.stage is Stage.TASK_TEAM and state.seq == 2

    await wait_for(adopted, seconds=20)


async def test_a_lost_write_does_not_answer_a_competing_request(
    client, people, team_and_meeting, db, temporal_env, settings
):
    """The competing request moved from the version it read, which the lost write made stale."""
    coordinator = people.headers(Role.COORDINATOR)
    activity = await create(client, people, task_team_id=team_and_meeting["team_id"])
    command = MoveCommand(to=Stage.TASK_TEAM, expected_version=activity["version"], reason="lost")
    await lose_a_write(db, activity["id"], "lost-2", command, people[Role.COORDINATOR].id)

    competing = await move(client, coordinator, activity["id"], activity["version"], "withdrawn", "dropped")
    assert competing.status_code == 409, competing.text
    assert competing.json()["code"] == "stale_version"


async def test_a_repeated_bulk_move_answers_each_item_with_its_own_move(client, people, team_and_meeting):
    coordinator = people.headers(Role.COORDINATOR)
    activities = [await create(client, people, task_team_id=team_and_meeting["team_id"]) for _ in range(3)]
    body = {
        "items": [
            {
                "activity_id": a["id"],
                "to": "task_team",
                "expected_version": a["version"],
                "reason": f"item {n}",
            }
            for n, a in enumerate(activities)
        ]
    }
    headers = coordinator | {"Idempotency-Key": "bulk-1"}
    first = await client.post("/transitions/bulk", json=body, headers=headers)
    again = await client.post("/transitions/bulk", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    for n, (one, two) in enumerate(zip(first.json(), again.json(), strict=True)):
        assert one["status"] == two["status"] == 200, (one, two)
        assert one["result"]["transition"] == two["result"]["transition"]
        assert one["result"]["transition"]["reason"] == f"item {n}"

    unkeyed = await client.post("/transitions/bulk", json=body, headers=coordinator)
    assert [item["status"] for item in unkeyed.json()] == [409, 409, 409]


async def test_a_repeated_bulk_tells_its_own_moves_from_others(client, people, team_and_meeting):
    """Between two sends of one bulk body, someone else moves one of its activities: the repeat
    answers the request's own moves with the same transitions (200) and that one with a 409; the
    same activity twice in one body is moved once."""
    coordinator = people.headers(Role.COORDINATOR)
    activities = [await create(client, people, task_team_id=team_and_meeting["team_id"]) for _ in range(4)]
    mine, taken = activities[:3], activities[3]
    items = [
        {"activity_id": a["id"], "to": "task_team", "expected_version": a["version"], "reason": "mine"}
        for a in mine
    ]
    headers = coordinator | {"Idempotency-Key": "bulk-mixed"}
    first = await client.post("/transitions/bulk", json={"items": items[:2]}, headers=headers)
    assert [o["status"] for o in first.json()] == [200, 200], first.text
    other = await move(client, coordinator, taken["id"], taken["version"], "withdrawn", "theirs")
    assert other.status_code == 200, other.text
    repeated = items + [
        {
            "activity_id": taken["id"],
            "to": "task_team",
            "expected_version": taken["version"],
            "reason": "mine",
        }
    ]
    again = await client.post("/transitions/bulk", json={"items": repeated}, headers=headers)
    assert again.status_code == 200, again.text
    answers = again.json()
    assert [o["status"] for o in answers] == [200, 200, 200, 409], answers
    for before, now in zip(first.json(), answers[:2], strict=True):
        assert now["result"]["transition"] == before["result"]["transition"]  # replayed, not moved again
    assert answers[2]["result"]["transition"]["seq"] == 2  # new in this send: moved now
    assert answers[3]["problem"]["code"] == "stale_version"

    twice = await create(client, people, task_team_id=team_and_meeting["team_id"])
    same = {"activity_id": twice["id"], "to": "task_team", "expected_version": twice["version"]}
    both = await client.post(
        "/transitions/bulk",
        json={"items": [same | {"idempotency_key": "one"}, same | {"idempotency_key": "two"}]},
        headers=coordinator,
    )
    statuses = sorted(o["status"] for o in both.json())
    assert statuses == [200, 409], both.text
    got = (await client.get(f"/activities/{twice['id']}", headers=coordinator)).json()
    assert got["stage"] == "task_team" and got["version"] == twice["version"] + 1
