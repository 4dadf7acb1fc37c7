"""Pilot projects of an activity: coordinators, and the lead of that activity, record them."""

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
from api.schemas import LongText, NameText, NotNull, WriteModel
from core.versions import check_if_match
from models import Activity, PilotProject
from models.countries import CountryCode
from services.records import (
    add_and_flush,
    apply_changes,
    delete_row,
    ensure_period,
    get_or_404,
)

router = APIRouter(tags=["pilot projects"])


class PilotProjectCreate(WriteModel):
    title: str = Field(min_length=1, max_length=300)
    region: str | None = Field(None, max_length=100)
    countries: list[CountryCode] = Field(
        default_factory=list, description="ISO 3166-1 codes or names; stored and shown as alpha-2 codes"
    )
    partners: list[NameText] = Field(default_factory=list)
    starts_on: date | None = None
    ends_on: date | None = None
    lessons_learned: LongText | None = None


class PilotProjectUpdate(WriteModel):
    title: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=300)
    region: str | None = Field(None, max_length=100)
    countries: Annotated[list[CountryCode] | None, NotNull] = Field(
        None, description="ISO 3166-1 codes or names; stored and shown as alpha-2 codes"
    )
    partners: Annotated[list[NameText] | None, NotNull] = None
    starts_on: date | None = None
    ends_on: date | None = None
    lessons_learned: LongText | None = None


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


SORTING = Sorting(
    {
        "id": PilotProject.id,
        "title": PilotProject.title,
        "starts_on": PilotProject.starts_on,
        "ends_on": PilotProject.ends_on,
    },
    default="id",
    tiebreak=PilotProject.id,
)


async def get_pilot_or_404(session: AsyncSession, pilot_id: int) -> PilotProject:
    return await get_or_404(session, PilotProject, pilot_id, label="pilot project")


async def get_writable_pilot(session: AsyncSession, principal: Principal, pilot_id: int) -> PilotProject:
    """The pilot project, once the caller is allowed to record progress on its activity."""
    pilot = await get_pilot_or_404(session, pilot_id)
    activity = await get_activity_or_404(pilot.activity_id, session)
    await ensure_progress_writer(session, principal, activity)
    return pilot


async def create_pilot(session: AsyncSession, activity: Activity, data: PilotProjectCreate) -> PilotProject:
    ensure_period(data.starts_on, data.ends_on)
    return await add_and_flush(session, PilotProject(activity_id=activity.id, **data.model_dump()))


async def update_pilot(
    session: AsyncSession, pilot: PilotProject, data: PilotProjectUpdate, if_match: str | None
) -> None:
    check_if_match(if_match, pilot.version)
    apply_changes(pilot, data.model_dump(exclude_unset=True))
    ensure_period(pilot.starts_on, pilot.ends_on)
    await session.flush()


def _read(response: Response, pilot: PilotProject) -> PilotProjectRead:
    set_etag(response, pilot.version)
    return PilotProjectRead.model_validate(pilot)


@router.get(
    "/activities/{activity_id}/pilot-projects",
    summary="Pilot projects of an activity",
    response_model=Page[PilotProjectRead],
)
async def list_pilots(
    principal: Reader, session: SessionDep, page: PageQuery, activity: CurrentActivity
) -> Page[PilotProjectRead]:
    statement = select(PilotProject).where(PilotProject.activity_id == activity.id)
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
    await ensure_progress_writer(session, principal, activity)
    return _read(response, await create_pilot(session, activity, data))


@router.get("/pilot-projects/{pilot_id}", summary="One pilot project", response_model=PilotProjectRead)
async def read_pilot(
    principal: Reader, session: SessionDep, response: Response, pilot_id: int
) -> PilotProjectRead:
    return _read(response, await get_pilot_or_404(session, pilot_id))


@router.patch("/pilot-projects/{pilot_id}", summary="Change a pilot project", response_model=PilotProjectRead)
async def patch_pilot(
    principal: ProgressWriter,
    session: SessionDep,
    response: Response,
    pilot_id: int,
    data: PilotProjectUpdate,
    if_match: IfMatch = None,
) -> PilotProjectRead:
    pilot = await get_writable_pilot(session, principal, pilot_id)
    await update_pilot(session, pilot, data, if_match)
    return _read(response, pilot)


@router.delete("/pilot-projects/{pilot_id}", status_code=204, summary="Delete a pilot project")
async def delete_pilot(
    principal: ProgressWriter, session: SessionDep, pilot_id: int, if_match: IfMatch = None
) -> None:
    pilot = await get_writable_pilot(session, principal, pilot_id)
    await delete_row(session, pilot, if_match, label="pilot project")
