"""Action entries ('actions taken or to be taken') of an activity, recorded like pilot projects."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, ProgressWriter, Reader, SessionDep
from api.etag import IfMatch, set_etag
from api.pagination import Page, PageQuery, Sorting, paginate
from api.routes.activities import CurrentActivity, ensure_progress_writer, get_activity_or_404
from api.schemas import LongText, NotNull, WriteModel
from core.versions import check_if_match
from models import ActionEntry, ActionKind, Activity, Provision
from services.records import (
    add_and_flush,
    apply_changes,
    delete_row,
    get_or_404,
    require_reference,
)

router = APIRouter(tags=["actions"])


class ActionEntryCreate(WriteModel):
    kind: ActionKind
    on_date: date
    text: LongText = Field(min_length=1)
    provision_id: int | None = None


class ActionEntryUpdate(WriteModel):
    kind: Annotated[ActionKind | None, NotNull] = None
    on_date: Annotated[date | None, NotNull] = None
    text: Annotated[LongText | None, NotNull] = Field(None, min_length=1)
    provision_id: int | None = None


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


SORTING = Sorting(
    {"id": ActionEntry.id, "on_date": ActionEntry.on_date},
    default="on_date",
    tiebreak=ActionEntry.id,
)


async def get_action_or_404(session: AsyncSession, action_id: int) -> ActionEntry:
    return await get_or_404(session, ActionEntry, action_id, label="action entry")


async def get_writable_action(session: AsyncSession, principal: Principal, action_id: int) -> ActionEntry:
    """The action entry, once the caller is allowed to record progress on its activity."""
    action = await get_action_or_404(session, action_id)
    activity = await get_activity_or_404(action.activity_id, session)
    await ensure_progress_writer(session, principal, activity)
    return action


async def _check_provision(session: AsyncSession, provision_id: int | None) -> None:
    await require_reference(session, Provision, provision_id, field="provision_id", label="provision")


async def create_action(
    session: AsyncSession, activity: Activity, author_id: int, data: ActionEntryCreate
) -> ActionEntry:
    await _check_provision(session, data.provision_id)
    entry = ActionEntry(activity_id=activity.id, author_id=author_id, **data.model_dump())
    return await add_and_flush(session, entry)


async def update_action(
    session: AsyncSession, action: ActionEntry, data: ActionEntryUpdate, if_match: str | None
) -> None:
    check_if_match(if_match, action.version)
    changes = data.model_dump(exclude_unset=True)
    await _check_provision(session, changes.get("provision_id"))
    apply_changes(action, changes)
    await session.flush()


def _read(response: Response, action: ActionEntry) -> ActionEntryRead:
    set_etag(response, action.version)
    return ActionEntryRead.model_validate(action)


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
    statement = select(ActionEntry).where(ActionEntry.activity_id == activity.id)
    if kind is not None:
        statement = statement.where(ActionEntry.kind == kind)
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
    await ensure_progress_writer(session, principal, activity)
    return _read(response, await create_action(session, activity, principal.person_id, data))


@router.get("/actions/{action_id}", summary="One action entry", response_model=ActionEntryRead)
async def read_action(
    principal: Reader, session: SessionDep, response: Response, action_id: int
) -> ActionEntryRead:
    return _read(response, await get_action_or_404(session, action_id))


@router.patch("/actions/{action_id}", summary="Change an action entry", response_model=ActionEntryRead)
async def patch_action(
    principal: ProgressWriter,
    session: SessionDep,
    response: Response,
    action_id: int,
    data: ActionEntryUpdate,
    if_match: IfMatch = None,
) -> ActionEntryRead:
    action = await get_writable_action(session, principal, action_id)
    await update_action(session, action, data, if_match)
    return _read(response, action)


@router.delete("/actions/{action_id}", status_code=204, summary="Delete an action entry")
async def delete_action(
    principal: ProgressWriter, session: SessionDep, action_id: int, if_match: IfMatch = None
) -> None:
    action = await get_writable_action(session, principal, action_id)
    await delete_row(session, action, if_match, label="action entry")
