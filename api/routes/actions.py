"""Action entries ('actions taken or to be taken') of an activity, recorded like pilot projects."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ProgressWriter, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.progress_schemas import ActionEntryCreate, ActionEntryUpdate
from api.routes.activities import CurrentActivity
from models import ActionKind
from services import actions, activities
from services.actions import ACTIONS, SORTING, action_query
from services.pagination import paginate

router = APIRouter(tags=["actions"])


class ActionEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    activity_id: int
    kind: ActionKind
    on_date: date
    text: str
    provision_id: int | None
    author_id: int | None
    source: str | None = Field(
        None,
        description='provenance of loaded data ("Note …, para. 13", or "Illustrative …"); null when entered',
    )
    version: int
    created_at: datetime
    updated_at: datetime


@router.get(
    "/activities/{activity_id}/actions",
    summary="Action entries of an activity",
    response_model=Page[ActionEntryRead],
)
async def list_actions(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    activity: CurrentActivity,
    kind: ActionKind | None = None,
) -> Page[ActionEntryRead]:
    statement = action_query(activity.id, kind)
    rows, next_cursor = await paginate(session, statement, SORTING, page)
    items = [ActionEntryRead.model_validate(row) for row in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/activities/{activity_id}/actions",
    status_code=201,
    summary="Record an action",
    response_model=ActionEntryRead,
)
async def post_action(
    principal: ProgressWriter,
    session: SessionDep,
    response: Response,
    activity: CurrentActivity,
    data: ActionEntryCreate,
) -> ActionEntryRead:
    await activities.ensure_progress_writer(session, principal, activity)
    action = await actions.create_action(session, activity.id, principal.person_id, data.model_dump())
    return tagged(response, ActionEntryRead, action)


@router.get("/actions/{action_id}", summary="One action entry", response_model=ActionEntryRead)
async def read_action(
    principal: Reader, session: SessionDep, response: Response, action_id: int
) -> ActionEntryRead:
    return tagged(response, ActionEntryRead, await ACTIONS.get(session, action_id))


@router.patch("/actions/{action_id}", summary="Change an action entry", response_model=ActionEntryRead)
async def patch_action(
    principal: ProgressWriter,
    session: SessionDep,
    response: Response,
    action_id: int,
    data: ActionEntryUpdate,
    if_match: IfMatch = None,
) -> ActionEntryRead:
    action = await activities.writable_record(session, principal, ACTIONS, action_id)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, ActionEntryRead, await ACTIONS.update(session, action, changes, if_match))


@router.delete("/actions/{action_id}", status_code=204, summary="Delete an action entry")
async def delete_action(
    principal: ProgressWriter, session: SessionDep, action_id: int, if_match: IfMatch = None
) -> None:
    action = await activities.writable_record(session, principal, ACTIONS, action_id)
    await ACTIONS.delete(session, action, if_match)
