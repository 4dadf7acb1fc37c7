"""Task teams: ad hoc, time-limited inter-secretariat teams; coordinators manage them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Coordinator, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.schemas import IdList, NotNull, WriteModel
from services.pagination import paginate
from services.task_teams import SORTING, TASK_TEAMS, task_team_query

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
    return tagged(response, TaskTeamRead, await TASK_TEAMS.create(session, data.model_dump()))


@router.get("/{team_id}", summary="One task team", response_model=TaskTeamRead)
async def read_task_team(
    principal: Reader, session: SessionDep, response: Response, team_id: int
) -> TaskTeamRead:
    return tagged(response, TaskTeamRead, await TASK_TEAMS.get(session, team_id))


@router.patch("/{team_id}", summary="Change a task team", response_model=TaskTeamRead)
async def patch_task_team(
    principal: Coordinator,
    session: SessionDep,
    response: Response,
    team_id: int,
    data: TaskTeamUpdate,
    if_match: IfMatch = None,
) -> TaskTeamRead:
    team = await TASK_TEAMS.get(session, team_id)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, TaskTeamRead, await TASK_TEAMS.update(session, team, changes, if_match))


@router.delete("/{team_id}", status_code=204, summary="Delete a task team")
async def delete_task_team(
    principal: Coordinator, session: SessionDep, team_id: int, if_match: IfMatch = None
) -> None:
    await TASK_TEAMS.delete(session, await TASK_TEAMS.get(session, team_id), if_match)
