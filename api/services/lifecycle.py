"""The API's side of the lifecycle: start an activity's workflow, send it moves and edits as
Temporal Updates, and turn the engine's answers into domain errors."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import metrics
from api.errors import Conflict, DomainError, NotFound, Unavailable
from api.settings import Settings
from models import Activity, Meeting, PilotProject, TaskTeam, Transition
from workflows import search
from workflows.lifecycle import ActivityLifecycle
from workflows.messages import LifecycleState, Outcome
from workflows.reminders import ReminderPolicy
from workflows.stages import ActivityFacts, PilotFacts, Stage


def reminder_policy(settings: Settings) -> ReminderPolicy:
    return ReminderPolicy(
        days_before=tuple(settings.reminder_days_before),
        escalate_after_days=settings.escalate_after_days,
        escalate_every_days=settings.escalate_every_days,
        management_after_days=settings.escalate_management_after_days,
    )


def initial_state(activity: Activity, settings: Settings) -> LifecycleState:
    return LifecycleState(
        activity_id=activity.id, stage=Stage(activity.stage), version=activity.version,
        seq=activity.transition_count, due_on=activity.stage_due_on, lead_id=activity.lead_id,
        conventions=activity.convention_codes, thematic_group_id=activity.thematic_group_id,
        stage_due_days=dict(settings.stage_due_days), policy=reminder_policy(settings),
        search_attributes=settings.temporal_search_attributes,
    )


def _search_attributes(state: LifecycleState) -> TypedSearchAttributes:
    return TypedSearchAttributes([
        search.STAGE.value_set(state.stage.value),
        search.CONVENTIONS.value_set(list(state.conventions)),
        search.THEMATIC_GROUP.value_set(str(state.thematic_group_id or "")),
    ])


async def start_workflow(client: Client, settings: Settings, activity: Activity) -> None:
    """Start the activity's workflow; an already running one is left as it is."""
    state = initial_state(activity, settings)
    try:
        await client.start_workflow(
            ActivityLifecycle.run, state, id=settings.workflow_id(activity.id),
            task_queue=settings.temporal_task_queue,
            search_attributes=_search_attributes(state) if state.search_attributes else None,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        pass  # finished before (closed or withdrawn): nothing left to follow
    except RPCError as exc:
        raise _rpc_error(exc) from exc


async def ensure_workflows(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """Start the workflow of every open activity that has none (after a demo load or a restore)."""
    async with sessionmaker() as session:
        activities = list(await session.scalars(
            select(Activity).where(Activity.stage.in_([s.value for s in Stage if s.is_open]))
            .order_by(Activity.id)
        ))
    for activity in activities:
        await start_workflow(client, settings, activity)
    return len(activities)


async def gather_facts(
    session: AsyncSession, activity: Activity, closing_meeting_id: int | None = None
) -> ActivityFacts:
    """The data the stage machine's guards read, as the record stands now."""
    task_team = (
        await session.get(TaskTeam, activity.task_team_id) if activity.task_team_id else None
    )
    pilots = await session.scalars(
        select(PilotProject).where(PilotProject.activity_id == activity.id)
    )
    meeting_ids = frozenset(await session.scalars(select(Meeting.id)))
    return ActivityFacts(
        conventions=tuple(activity.convention_codes),
        single_convention_reason=activity.single_convention_reason,
        task_team_lead_id=task_team.lead_id if task_team else None,
        task_team_ends_on=task_team.ends_on if task_team else None,
        pilots=tuple(
            PilotFacts(p.region, tuple(p.countries or ()), p.lessons_learned) for p in pilots
        ),
        target_meeting_id=activity.target_meeting_id,
        closing_meeting_id=closing_meeting_id if closing_meeting_id in meeting_ids else None,
        meeting_ids=meeting_ids,
    )


async def target_meeting_deadline(session: AsyncSession, activity: Activity) -> date | None:
    if activity.target_meeting_id is None:
        return None
    meeting = await session.get(Meeting, activity.target_meeting_id)
    return meeting.document_deadline if meeting else None


async def send_update(
    client: Client,
    settings: Settings,
    activity_id: int,
    update: Any,
    argument: Any,
    *,
    update_id: str | None = None,
) -> Outcome:
    """Run one workflow update and map every failure to a domain error with the right status."""
    handle = client.get_workflow_handle(settings.workflow_id(activity_id))
    try:
        return await handle.execute_update(
            update, argument, id=update_id or str(uuid.uuid4()), result_type=Outcome
        )
    except WorkflowUpdateFailedError as exc:
        error = _domain_error(exc.cause)
        metrics.MOVE_REJECTIONS.labels(error.code).inc()
        raise error from exc
    except RPCError as exc:
        raise _rpc_error(exc) from exc


def _domain_error(cause: BaseException | None) -> DomainError:
    if isinstance(cause, ActivityError):
        if isinstance(cause.cause, ApplicationError) and cause.cause.non_retryable:
            return _domain_error(cause.cause)
        return Unavailable(
            "the database did not accept the change in time; nothing was changed",
            code="database_unavailable",
        )
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return DomainError(
            cause.message, status=int(details.get("status", 409)),
            code=str(details.get("code", cause.type or "rejected")),
        )
    return Conflict(str(cause) if cause else "the workflow rejected the change")


def _rpc_error(exc: RPCError) -> DomainError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return Conflict(
            "this activity's workflow is not running (it may be closed, or not started: run "
            "`synergies check --repair`)", code="workflow_not_running",
        )
    if exc.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return DomainError("too many changes in flight for this activity; retry shortly",
                           status=429, code="too_many_updates")
    return Unavailable(f"the workflow engine is unavailable ({exc.status.name if exc.status else exc}); "
                       "nothing was changed", code="temporal_unavailable")


async def load_activity(session: AsyncSession, activity_id: int) -> Activity:
    activity = await session.get(Activity, activity_id, populate_existing=True)
    if activity is None:
        raise NotFound(f"activity {activity_id} does not exist")
    return activity


async def transitions_of(session: AsyncSession, activity_id: int) -> list[Transition]:
    return list(await session.scalars(
        select(Transition).where(Transition.activity_id == activity_id).order_by(Transition.seq)
    ))


async def activities_targeting(session: AsyncSession, meeting_id: int) -> list[int]:
    return list(await session.scalars(
        select(Activity.id).where(
            Activity.target_meeting_id == meeting_id, Activity.stage == Stage.REPORT_TO_COP.value
        )
    ))

