"""Task teams: ad hoc, time-limited inter-secretariat teams; coordinators manage them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Coordinator, Reader, SessionDep
from api.etag import IfMatch, set_etag
from api.pagination import Page, PageQuery, Sorting, paginate
from api.schemas import IdList, NotNull, WriteModel
from core.versions import check_if_match
from models import Body, BodyKind, Person, TaskTeam
from services.records import (
    InvalidInput,
    add_and_flush,
    apply_changes,
    delete_row,
    ensure_period,
    get_or_404,
    load_by_keys,
    require_reference,
)

router = APIRouter(prefix="/task-teams", tags=["task teams"])


class TaskTeamCreate(WriteModel):
    name: str = Field(min_length=1, max_length=300)
    thematic_group_id: int | None = None
    lead_id: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    members: list[int] = Field(default_factory=list, description="person ids")


class TaskTeamUpdate(WriteModel):
    name: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=300)
    thematic_group_id: int | None = None
    lead_id: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    members: Annotated[list[int] | None, NotNull] = Field(None, description="person ids")


class TaskTeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    thematic_group_id: int | None
    lead_id: int | None
    starts_on: date | None
    ends_on: date | None
    members: IdList
    version: int
    created_at: datetime
    updated_at: datetime


SORTING = Sorting(
    {
        "id": TaskTeam.id,
        "name": TaskTeam.name,
        "starts_on": TaskTeam.starts_on,
        "ends_on": TaskTeam.ends_on,
    },
    default="id",
    tiebreak=TaskTeam.id,
)


def task_team_query(thematic_group: int | None, lead: int | None, q: str | None) -> Select[Any]:
    statement = select(TaskTeam)
    if thematic_group is not None:
        statement = statement.where(TaskTeam.thematic_group_id == thematic_group)
    if lead is not None:
        statement = statement.where(TaskTeam.lead_id == lead)
    if q:
        statement = statement.where(TaskTeam.name.icontains(q, autoescape=True))
    return statement


async def get_task_team_or_404(session: AsyncSession, team_id: int) -> TaskTeam:
    return await get_or_404(session, TaskTeam, team_id, label="task team")


async def _check_references(session: AsyncSession, changes: dict[str, Any]) -> None:
    """Unknown or wrong-kind ids are a 422 naming the field; members become Person rows."""
    group_id = changes.get("thematic_group_id")
    if group_id is not None:
        group = await session.get(Body, group_id)
        if group is None or group.kind is not BodyKind.THEMATIC_GROUP:
            raise InvalidInput(
                f"thematic_group_id: {group_id} is not a thematic group", field="thematic_group_id"
            )
    await require_reference(session, Person, changes.get("lead_id"), field="lead_id", label="person")
    if changes.get("members") is not None:
        changes["members"] = await load_by_keys(
            session, Person.id, changes["members"], field="members", label="person"
        )


async def create_task_team(session: AsyncSession, data: TaskTeamCreate) -> TaskTeam:
    values = data.model_dump()
    await _check_references(session, values)
    ensure_period(data.starts_on, data.ends_on)
    return await add_and_flush(session, TaskTeam(**values))


async def update_task_team(
    session: AsyncSession, team: TaskTeam, data: TaskTeamUpdate, if_match: str | None
) -> None:
    check_if_match(if_match, team.version)
    changes = data.model_dump(exclude_unset=True)
    await _check_references(session, changes)
    apply_changes(team, changes)
    ensure_period(team.starts_on, team.ends_on)
    await session.flush()


def _read(response: Response, team: TaskTeam) -> TaskTeamRead:
    set_etag(response, team.version)
    return TaskTeamRead.model_validate(team)


@router.get("", summary="List task teams", response_model=Page[TaskTeamRead])
async def list_task_teams(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    thematic_group: Annotated[int | None, Query(description="thematic group id")] = None,
    lead: Annotated[int | None, Query(description="lead person id")] = None,
    q: Annotated[str | None, Query(description="text in the name")] = None,
) -> Page[TaskTeamRead]:
    statement = task_team_query(thematic_group, lead, q)
    rows, next_cursor = await paginate(session, statement, SORTING, page)
    return Page(items=[TaskTeamRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, summary="Create a task team", response_model=TaskTeamRead)
async def post_task_team(
    principal: Coordinator, session: SessionDep, response: Response, data: TaskTeamCreate
) -> TaskTeamRead:
    return _read(response, await create_task_team(session, data))


@router.get("/{team_id}", summary="One task team", response_model=TaskTeamRead)
async def read_task_team(
    principal: Reader, session: SessionDep, response: Response, team_id: int
) -> TaskTeamRead:
    return _read(response, await get_task_team_or_404(session, team_id))


@router.patch("/{team_id}", summary="Change a task team", response_model=TaskTeamRead)
async def patch_task_team(
    principal: Coordinator,
    session: SessionDep,
    response: Response,
    team_id: int,
    data: TaskTeamUpdate,
    if_match: IfMatch = None,
) -> TaskTeamRead:
    team = await get_task_team_or_404(session, team_id)
    await update_task_team(session, team, data, if_match)
    return _read(response, team)


@router.delete("/{team_id}", status_code=204, summary="Delete a task team")
async def delete_task_team(
    principal: Coordinator, session: SessionDep, team_id: int, if_match: IfMatch = None
) -> None:
    team = await get_task_team_or_404(session, team_id)
    await delete_row(session, team, if_match, label="task team")
