"""`synergies check [--repair]` against the real dev server, worker and database: every kind of
drift between an activity's row and its workflow is reported, and repaired from the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from core.events import EventType, NotificationEvent
from core.stages import Role
from models import Activity, OutboxEvent, utcnow
from models.db import transaction
from services.outbox import enqueue
from tests.activity_support import add_activity
from tests.lifecycle_support import create, move, synergies_check
from workflows.commands import initial_state
from workflows.consistency import DriftKind, check_all
from workflows.lifecycle import ActivityLifecycle

pytestmark = pytest.mark.usefixtures("lifecycle_worker")


async def workflow_state(app, settings, activity_id):
    handle = app.state.temporal.get_workflow_handle(settings.workflow_id(activity_id))
    return await handle.query(ActivityLifecycle.current)


async def row(db, activity_id) -> Activity:
    async with db() as session:
        return await session.get_one(Activity, activity_id)


async def test_consistent_activities_have_no_drift(client, people, team_and_meeting, app, db, settings):
    activity = await create(client, people)
    await move(client, people, activity, "withdrawn", reason="merged")
    await create(client, people, title="Still open")
    checked, drifts = await check_all(app.state.temporal, db, settings)
    assert (checked, drifts) == (2, [])


async def test_drift_is_reported_and_repaired(client, people, team_and_meeting, app, db, settings):
    temporal = app.state.temporal
    # 1. An open activity without a workflow (a restore, or a start that never happened).
    orphan = await add_activity(db, entered_at=utcnow(), lead_id=people[Role.TASK_TEAM_LEAD].id)
    # 2. A move recorded, then the workflow reset to the state before it.
    lagging = await create(client, people, title="Lagging")
    stale = initial_state(await row(db, lagging["id"]), settings)
    assert (await move(client, people, lagging, "withdrawn", reason="x")).status_code == 200
    reopened = await create(client, people, title="Reset")
    before = initial_state(await row(db, reopened["id"]), settings)
    edited = await client.patch(
        f"/activities/{reopened['id']}",
        json={"description": "more"},
        headers=people.headers(Role.COORDINATOR) | {"If-Match": f'W/"{reopened["version"]}"'},
    )
    assert edited.status_code == 200, edited.text
    handle = temporal.get_workflow_handle(settings.workflow_id(reopened["id"]))
    await handle.terminate("simulated reset")
    await temporal.start_workflow(
        ActivityLifecycle.run, before, id=handle.id, task_queue=settings.temporal_task_queue
    )
    # 3. A closed activity whose workflow still runs in an open stage.
    closed = await create(client, people, title="Closed in the database only")
    async with db() as session, session.begin():
        await session.execute(
            update(Activity)
            .where(Activity.id == closed["id"])
            .values(stage="withdrawn", version=Activity.version + 1)
            .execution_options(synchronize_session=False)
        )
    assert stale.stage.value == "thematic_group"  # (the lagging one ended: its workflow is done)

    checked, drifts = await check_all(temporal, db, settings)
    found = {d.activity_id: d.kind for d in drifts}
    assert found == {
        orphan.id: DriftKind.MISSING_WORKFLOW,
        reopened["id"]: DriftKind.STATE_MISMATCH,
        closed["id"]: DriftKind.RUNNING_FOR_CLOSED,
    }, [d.line() for d in drifts]
    mismatch = next(d for d in drifts if d.kind is DriftKind.STATE_MISMATCH)
    assert f"version={before.version}" in mismatch.detail and not mismatch.repaired

    _, repaired = await check_all(temporal, db, settings, repair=True)
    assert {d.activity_id for d in repaired if d.repaired} == set(found)
    assert (await check_all(temporal, db, settings)) == (checked, [])
    for activity_id in (orphan.id, reopened["id"]):
        state, stored = await workflow_state(app, settings, activity_id), await row(db, activity_id)
        assert (state.stage.value, state.version, state.seq, state.due_on) == (
            stored.stage,
            stored.version,
            stored.transition_count,
            stored.stage_due_on,
        )
    # The repaired workflow takes moves again.
    fresh = (
        await client.get(f"/activities/{reopened['id']}", headers=people.headers(Role.COORDINATOR))
    ).json()
    assert (await move(client, people, fresh, "withdrawn", reason="done")).status_code == 200


async def test_the_cli_reports_and_repairs(
    people, team_and_meeting, app, db, settings, database_url, temporal_env
):
    orphan = await add_activity(db, entered_at=utcnow(), lead_id=people[Role.TASK_TEAM_LEAD].id)

    async def run(*args: str) -> tuple[int, str]:
        return await synergies_check(database_url, settings, temporal_env.client, *args)

    code, out = await run()
    assert code == 1 and f"activity {orphan.id}" in out and "missing_workflow" in out, out
    code, out = await run("--repair")
    assert code == 0 and "(repaired)" in out, out
    code, out = await run()
    assert code == 0 and "0 with drift" in out, out
    assert (await workflow_state(app, settings, orphan.id)).version == orphan.version

    # An event whose sends keep failing: told, with its error, without failing the check.
    async with transaction(db) as session:
        await enqueue(
            session,
            [NotificationEvent(key="activity-x/t9", type=EventType.TRANSITION, title="t", body="")],
            utcnow(),
        )
        await session.execute(
            update(OutboxEvent).values(
                available_at=utcnow() + timedelta(hours=1), attempts=3, last_error="SMTPConnectError: refused"
            )
        )
    code, out = await run()
    assert code == 0, out
    assert "notification outbox: 1 event waiting since" in out, out
    assert "1 after failed attempts (last error: SMTPConnectError: refused)" in out, out
