"""Writing activities through their lifecycle workflow: create, edit, move, reminders.

Every write goes to the activity's Temporal workflow as an Update, which validates it before
anything is written; the answer is read back from the database (read-your-writes).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Coordinator, ProgressWriter, Reader, SessionDep, SettingsDep, TemporalDep
from api.etag import IfMatch, set_etag
from api.problems import problem_body
from api.routes.activities import ActivityRead, CurrentActivity, activity_read
from api.schemas import CodeText, NotNull, WriteModel
from core.errors import Conflict, DomainError
from core.settings import Settings
from core.stages import Stage, describe_table, evaluate_moves
from models import Activity
from services import activities
from services.reminders import pending_reminder
from workflows import commands

router = APIRouter(tags=["lifecycle"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request with the same key to get the first answer again",
    ),
]


class ActivityCreate(WriteModel):
    title: str = Field(min_length=3, max_length=300)
    description: str = Field("", max_length=20_000)
    provisions: list[CodeText] = Field(
        min_length=1, description="Element codes of the provisions the activity answers"
    )
    conventions: list[CodeText] | None = Field(
        None, description="Convention codes; by default those of the provisions' decisions"
    )
    thematic_group_id: int | None = None
    lead_id: int | None = None
    task_team_id: int | None = None
    target_meeting_id: int | None = None
    single_convention_reason: str | None = Field(None, max_length=5_000)
    watcher_ids: list[int] = []
    stage_due_on: date | None = None


class ActivityUpdate(WriteModel):
    title: Annotated[str | None, NotNull] = Field(None, min_length=3, max_length=300)
    description: Annotated[str | None, NotNull] = Field(None, max_length=20_000)
    provisions: Annotated[list[CodeText] | None, NotNull] = Field(None, min_length=1)
    conventions: Annotated[list[CodeText] | None, NotNull] = Field(None, min_length=1)
    thematic_group_id: int | None = None
    lead_id: int | None = None
    task_team_id: int | None = None
    target_meeting_id: int | None = None
    single_convention_reason: str | None = Field(None, max_length=5_000)
    watcher_ids: Annotated[list[int] | None, NotNull] = None
    stage_due_on: date | None = None


class MoveCreate(WriteModel):
    to: Stage
    expected_version: int = Field(ge=1, description="The activity version you are moving from")
    reason: str | None = Field(None, max_length=5_000)
    meeting_id: int | None = Field(None, description="For closing: the meeting that considered it")


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    activity_id: int
    seq: int
    from_stage: Stage | None
    to_stage: Stage
    actor_id: int | None
    at: datetime
    reason: str | None
    meeting_id: int | None
    due_on: date | None
    source: str | None = Field(
        None,
        description='provenance of loaded data ("Note …, para. 13", or "Illustrative …"); null when entered',
    )


class MoveResult(BaseModel):
    activity: ActivityRead
    transition: TransitionRead | None


class AllowedMove(BaseModel):
    to: Stage
    kind: str
    reason_required: bool
    meeting_required: bool
    allowed: bool
    blocked_by: list[str]


class BulkMoveItem(MoveCreate):
    activity_id: int
    idempotency_key: str | None = Field(
        None,
        max_length=200,
        description="This item's key; by default the request's Idempotency-Key and the activity id",
    )


class BulkMoveRequest(WriteModel):
    items: list[BulkMoveItem] = Field(min_length=1, max_length=200)


class BulkMoveOutcome(BaseModel):
    activity_id: int
    status: int
    result: MoveResult | None = None
    problem: dict[str, object] | None = None


class SnoozeCreate(WriteModel):
    until: date
    note: str | None = Field(None, max_length=2_000)


class AcknowledgeCreate(WriteModel):
    note: str | None = Field(None, max_length=2_000)


class ReminderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage: str
    kind: str
    due_on: date
    fired_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: int | None
    snoozed_until: date | None
    snoozed_by_id: int | None
    note: str | None


def _activity_read(activity: Activity, settings: Settings, response: Response) -> ActivityRead:
    read = activity_read(activity, settings)
    set_etag(response, read.version)
    return read


@router.get("/stages", summary="The stage machine: every allowed move and what it needs")
async def stage_table(principal: Reader) -> list[dict[str, str | bool]]:
    return describe_table()


@router.post(
    "/activities",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivityRead,
    summary="Create an activity and start its lifecycle workflow",
)
async def create_activity(
    body: ActivityCreate,
    principal: Coordinator,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
) -> ActivityRead:
    activity = await commands.create_activity(
        session, temporal, settings, principal, activities.ActivityDraft(**body.model_dump())
    )
    response.headers["Location"] = f"/activities/{activity.id}"
    return _activity_read(activity, settings, response)


@router.patch(
    "/activities/{activity_id}",
    response_model=ActivityRead,
    summary="Edit an activity (through its workflow; If-Match honoured)",
)
async def update_activity(
    body: ActivityUpdate,
    principal: Coordinator,
    activity: CurrentActivity,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
    if_match: IfMatch = None,
) -> ActivityRead:
    updated = await commands.edit_activity(
        session,
        temporal,
        settings,
        principal,
        activity,
        body.model_dump(exclude_unset=True),
        if_match,
    )
    return _activity_read(updated, settings, response)


@router.post(
    "/activities/{activity_id}/transitions",
    response_model=MoveResult,
    summary="Move an activity to another stage",
)
async def move_activity(
    activity_id: int,
    body: MoveCreate,
    principal: Coordinator,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> MoveResult:
    activity, transition = await commands.move_activity(
        session,
        temporal,
        settings,
        principal,
        activity_id,
        commands.MoveCommand(**body.model_dump()),
        idempotency_key,
    )
    return MoveResult(
        activity=_activity_read(activity, settings, response),
        transition=TransitionRead.model_validate(transition) if transition else None,
    )


@router.get(
    "/activities/{activity_id}/transitions",
    response_model=list[TransitionRead],
    summary="The transition log of an activity",
)
async def list_transitions(
    principal: Reader, activity: CurrentActivity, session: SessionDep
) -> list[TransitionRead]:
    rows = await activities.transitions_of(session, activity.id)
    return [TransitionRead.model_validate(row) for row in rows]


@router.get(
    "/activities/{activity_id}/transitions/allowed",
    response_model=list[AllowedMove],
    summary="The moves allowed now for the caller, with what blocks the others",
)
async def allowed_transitions(
    principal: Reader, activity: CurrentActivity, session: SessionDep
) -> list[AllowedMove]:
    facts = await activities.gather_facts(session, activity)
    return [
        AllowedMove(
            to=option.move.target,
            kind=option.move.kind.value,
            reason_required=option.move.reason_required,
            meeting_required=option.move.meeting_required,
            allowed=option.allowed,
            blocked_by=list(option.blocked_by),
        )
        for option in evaluate_moves(Stage(activity.stage), role=principal.role, facts=facts)
    ]


@router.post(
    "/transitions/bulk",
    response_model=list[BulkMoveOutcome],
    summary="Move many activities; one result per item",
)
async def bulk_move(
    body: BulkMoveRequest,
    principal: Coordinator,
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> list[BulkMoveOutcome]:
    """Each item is a move of its own, keyed like one: repeating the request (same
    Idempotency-Key) answers every item that was made with its own move, not a 409."""
    limit = asyncio.Semaphore(8)

    async def one(item: BulkMoveItem) -> BulkMoveOutcome:
        key = item.idempotency_key or (f"{idempotency_key}:{item.activity_id}" if idempotency_key else None)
        async with limit, request.app.state.sessionmaker() as session:
            try:
                command = commands.MoveCommand(**item.model_dump(exclude={"activity_id", "idempotency_key"}))
                activity, transition = await commands.move_activity(
                    session, temporal, settings, principal, item.activity_id, command, key
                )
            except DomainError as exc:
                return BulkMoveOutcome(
                    activity_id=item.activity_id,
                    status=exc.status,
                    problem=problem_body(exc.status, exc.code, exc.detail, **exc.extra),
                )
            result = MoveResult(
                activity=activity_read(activity, settings),
                transition=TransitionRead.model_validate(transition) if transition else None,
            )
            return BulkMoveOutcome(activity_id=item.activity_id, status=200, result=result)

    return list(await asyncio.gather(*(one(item) for item in body.items)))


@router.get(
    "/activities/{activity_id}/reminders",
    response_model=list[ReminderRead],
    summary="Reminders and escalations fired for an activity, with acknowledgements",
)
async def list_reminders(
    principal: Reader, activity: CurrentActivity, session: SessionDep
) -> list[ReminderRead]:
    return [ReminderRead.model_validate(row) for row in await activities.reminders_of(session, activity.id)]


@router.post(
    "/activities/{activity_id}/reminders/acknowledge",
    response_model=ActivityRead,
    summary="Acknowledge the latest reminder (the lead, or a coordinator)",
    description="409 `nothing_to_acknowledge` when no reminder of the current stage waits for one.",
)
async def acknowledge_reminder(
    body: AcknowledgeCreate,
    principal: ProgressWriter,
    activity: CurrentActivity,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
) -> ActivityRead:
    await activities.ensure_progress_writer(session, principal, activity)
    if await pending_reminder(session, activity) is None:
        raise Conflict(
            f"activity {activity.id} has no unacknowledged reminder in its {activity.stage} stage",
            code="nothing_to_acknowledge",
        )
    updated = await commands.acknowledge(session, temporal, settings, principal, activity, body.note)
    return _activity_read(updated, settings, response)


@router.post(
    "/activities/{activity_id}/reminders/snooze",
    response_model=ActivityRead,
    summary="Snooze reminders until a date (recorded; escalations continue)",
)
async def snooze_reminders(
    body: SnoozeCreate,
    principal: ProgressWriter,
    activity: CurrentActivity,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    response: Response,
) -> ActivityRead:
    await activities.ensure_progress_writer(session, principal, activity)
    updated = await commands.snooze(session, temporal, settings, principal, activity, body.until, body.note)
    return _activity_read(updated, settings, response)
