"""`synergies check [--repair]`: does every activity's workflow agree with its database row?

The database is the record: the workflow of an open activity must be running and carry the row's
stage, version, transition count and due date; a closed or withdrawn activity has no running
workflow left behind in an open stage. `repair` starts missing workflows and replaces a workflow
whose state differs from the row (terminate, then start from the row: `initial_state`). A
report_to_cop due date left behind by a meeting that moved while the engine was down is re-timed.
The activity counts behind the dashboard summary (models.counts) are compared with the activities
too, and so are the log's rollups behind the oversight views (models.rollups); `repair` rebuilds
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core.settings import Settings
from core.stages import Stage
from models import Activity, Meeting
from models.counts import CountKey, count_drift, fill_keys, key_drift, rebuild_counts
from models.db import transaction
from models.rollups import RollupDrift, rebuild_rollups, rollup_drift
from workflows.commands import send_update, start_workflow
from workflows.lifecycle import ActivityLifecycle
from workflows.messages import LifecycleState, MeetingChange


class DriftKind(StrEnum):
    MISSING_WORKFLOW = "missing_workflow"
    STATE_MISMATCH = "state_mismatch"
    RUNNING_FOR_CLOSED = "running_for_closed"
    DUE_DATE_BEHIND_MEETING = "due_date_behind_meeting"


@dataclass
class Drift:
    activity_id: int
    workflow_id: str
    kind: DriftKind
    detail: str
    repaired: bool = False

    def line(self) -> str:
        done = " (repaired)" if self.repaired else ""
        return f"activity {self.activity_id} [{self.workflow_id}] {self.kind}: {self.detail}{done}"


def _row_state(activity: Activity) -> tuple[str, int, int, object]:
    return (str(activity.stage), activity.version, activity.transition_count, activity.stage_due_on)


def _workflow_state(state: LifecycleState) -> tuple[str, int, int, object]:
    return (state.stage.value, state.version, state.seq, state.due_on)


def _describe(values: tuple[str, int, int, object]) -> str:
    stage, version, seq, due_on = values
    return f"stage={stage} version={version} transitions={seq} due={due_on}"


async def _running_state(client: Client, workflow_id: str) -> LifecycleState | None:
    """The state of the running workflow, or None when there is none (never started or ended)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.status != WorkflowExecutionStatus.RUNNING:
        return None
    return await handle.query(ActivityLifecycle.current)


async def check_activity(
    client: Client,
    settings: Settings,
    activity: Activity,
    *,
    repair: bool = False,
    meeting_deadline: date | None = None,
) -> Drift | None:
    workflow_id = settings.workflow_id(activity.id)
    state = await _running_state(client, workflow_id)
    row = _row_state(activity)
    is_open = Stage(activity.stage).is_open
    drift: Drift | None = None
    if state is None:
        if is_open:
            drift = Drift(
                activity.id,
                workflow_id,
                DriftKind.MISSING_WORKFLOW,
                f"no running workflow for an open activity ({_describe(row)})",
            )
    elif not is_open:
        if state.stage.is_open:
            drift = Drift(
                activity.id,
                workflow_id,
                DriftKind.RUNNING_FOR_CLOSED,
                f"the activity is {activity.stage} but its workflow is running in {state.stage.value}",
            )
    elif _workflow_state(state) != row:
        drift = Drift(
            activity.id,
            workflow_id,
            DriftKind.STATE_MISMATCH,
            f"database {_describe(row)}; workflow {_describe(_workflow_state(state))}",
        )
    elif (
        activity.stage == Stage.REPORT_TO_COP
        and meeting_deadline is not None
        and activity.stage_due_on != meeting_deadline
    ):
        drift = Drift(
            activity.id,
            workflow_id,
            DriftKind.DUE_DATE_BEHIND_MEETING,
            f"due {activity.stage_due_on}, but its meeting's documents are due {meeting_deadline}",
        )
        if repair:
            await send_update(
                client,
                settings,
                activity.id,
                ActivityLifecycle.meeting_changed,
                MeetingChange(activity.target_meeting_id or 0, meeting_deadline),
            )
            drift.repaired = True
        return drift
    if drift is None or not repair:
        return drift
    if state is not None:
        await client.get_workflow_handle(workflow_id).terminate(f"synergies check --repair: {drift.kind}")
    if is_open:
        await start_workflow(client, settings, activity)
    drift.repaired = True
    return drift


async def check_all(
    client: Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    repair: bool = False,
) -> tuple[int, list[Drift]]:
    """(activities checked, drifts found) over every activity, in id order."""
    async with sessionmaker() as session:
        activities = list(await session.scalars(select(Activity).order_by(Activity.id)))
        deadlines = {m.id: m.document_deadline for m in await session.scalars(select(Meeting))}
    drifts = []
    for activity in activities:
        drift = await check_activity(
            client,
            settings,
            activity,
            repair=repair,
            meeting_deadline=deadlines.get(activity.target_meeting_id or 0),
        )
        if drift is not None:
            drifts.append(drift)
    return len(activities), drifts


@dataclass
class CountDrift:
    key: CountKey
    stored: int
    actual: int
    repaired: bool = False

    def line(self) -> str:
        done = " (repaired)" if self.repaired else ""
        return f"activity count {self.key}: {self.stored} stored, {self.actual} activities{done}"


async def check_counts(
    sessionmaker: async_sessionmaker[AsyncSession], *, repair: bool = False
) -> list[CountDrift]:
    """Counts table rows that disagree with the activities; `repair` recounts the whole table."""
    async with transaction(sessionmaker) as session:
        drifts = [
            CountDrift(key, stored, actual) for key, (stored, actual) in (await count_drift(session)).items()
        ]
        if drifts and repair:
            await rebuild_counts(session)
            for drift in drifts:
                drift.repaired = True
    return drifts


@dataclass
class ConventionsKeyDrift:
    activity_id: int
    stored: str
    actual: str
    repaired: bool = False

    def line(self) -> str:
        done = " (repaired)" if self.repaired else ""
        key = f"{self.stored!r} stored, {self.actual!r} linked"
        return f"activity {self.activity_id} conventions key: {key}{done}"


async def check_keys(
    sessionmaker: async_sessionmaker[AsyncSession], *, repair: bool = False
) -> list[ConventionsKeyDrift]:
    """Activities whose kept conventions key (the views' convention filter) disagrees with their
    links; `repair` refills the keys from the links."""
    async with transaction(sessionmaker) as session:
        drifts = [ConventionsKeyDrift(id_, *keys) for id_, keys in (await key_drift(session)).items()]
        if drifts and repair:
            await session.run_sync(lambda sync_session: fill_keys(sync_session.connection()))
            for drift in drifts:
                drift.repaired = True
    return drifts


@dataclass
class LogRollupDrift:
    drift: RollupDrift
    repaired: bool = False

    def line(self) -> str:
        done = " (repaired)" if self.repaired else ""
        key = ", ".join(str(part) for part in self.drift.key)
        return f"{self.drift.table} ({key}): {self.drift.stored} stored, {self.drift.actual} in the log{done}"


async def check_rollups(
    sessionmaker: async_sessionmaker[AsyncSession], *, repair: bool = False
) -> list[LogRollupDrift]:
    """Rollup rows (models.rollups) that disagree with the transition log; `repair` rebuilds both
    tables from the log."""
    async with transaction(sessionmaker) as session:
        drifts = [LogRollupDrift(drift) for drift in await rollup_drift(session)]
        if drifts and repair:
            await rebuild_rollups(session)
            for drift in drifts:
                drift.repaired = True
    return drifts
