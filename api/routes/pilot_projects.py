"""Pilot projects of an activity: coordinators, and the lead of that activity, record them."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ProgressWriter, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.progress_schemas import PilotProjectCreate, PilotProjectUpdate
from api.routes.activities import CurrentActivity
from services import activities, pilot_projects
from services.pagination import paginate
from services.pilot_projects import PILOTS, SORTING, pilot_query

router = APIRouter(tags=["pilot projects"])


class PilotProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    activity_id: int
    title: str
    region: str | None
    countries: list[str]
    partners: list[str]
    starts_on: date | None
    ends_on: date | None
    lessons_learned: str | None
    source: str | None = Field(
        None,
        description='provenance of loaded data ("Note …, para. 13", or "Illustrative …"); null when entered',
    )
    version: int
    created_at: datetime
    updated_at: datetime


@router.get(
    "/activities/{activity_id}/pilot-projects",
    summary="Pilot projects of an activity",
    response_model=Page[PilotProjectRead],
)
async def list_pilots(
    principal: Reader, session: SessionDep, page: PageQuery, activity: CurrentActivity
) -> Page[PilotProjectRead]:
    statement = pilot_query(activity.id)
    rows, next_cursor = await paginate(session, statement, SORTING, page)
    return Page(items=[PilotProjectRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/activities/{activity_id}/pilot-projects",
    status_code=201,
    summary="Add a pilot project",
    response_model=PilotProjectRead,
)
async def post_pilot(
    principal: ProgressWriter,
    session: SessionDep,
    response: Response,
    activity: CurrentActivity,
    data: PilotProjectCreate,
) -> PilotProjectRead:
    await activities.ensure_progress_writer(session, principal, activity)
    pilot = await pilot_projects.create_pilot(session, activity.id, data.model_dump())
    return tagged(response, PilotProjectRead, pilot)


@router.get("/pilot-projects/{pilot_id}", summary="One pilot project", response_model=PilotProjectRead)
async def read_pilot(
    principal: Reader, session: SessionDep, response: Response, pilot_id: int
) -> PilotProjectRead:
    return tagged(response, PilotProjectRead, await PILOTS.get(session, pilot_id))


@router.patch("/pilot-projects/{pilot_id}", summary="Change a pilot project", response_model=PilotProjectRead)
async def patch_pilot(
    principal: ProgressWriter,
    session: SessionDep,
    response: Response,
    pilot_id: int,
    data: PilotProjectUpdate,
    if_match: IfMatch = None,
) -> PilotProjectRead:
    pilot = await activities.writable_record(session, principal, PILOTS, pilot_id)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, PilotProjectRead, await PILOTS.update(session, pilot, changes, if_match))


@router.delete("/pilot-projects/{pilot_id}", status_code=204, summary="Delete a pilot project")
async def delete_pilot(
    principal: ProgressWriter, session: SessionDep, pilot_id: int, if_match: IfMatch = None
) -> None:
    pilot = await activities.writable_record(session, principal, PILOTS, pilot_id)
    await PILOTS.delete(session, pilot, if_match)
