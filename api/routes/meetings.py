"""COPs and ExCOPs: admins manage them; a moved opening date or deadline re-times report_to_cop."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.schemas import CodeList, CodeText, NotNull, WriteModel
from models import MeetingKind
from services import meetings
from services.meetings import MEETINGS, SORTING, meeting_query
from services.pagination import paginate

router = APIRouter(prefix="/meetings", tags=["reference data"])


class MeetingCreate(WriteModel):
    code: str = Field(min_length=1, max_length=32, examples=["BC-17"])
    kind: MeetingKind
    number: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=300)
    venue: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    document_deadline_override: date | None = None
    document_symbol_prefix: str | None = Field(None, max_length=64)
    report_symbol: str | None = Field(
        None, max_length=64, description="symbol of the progress report, e.g. UNEP/POPS/COP.5/INF/21"
    )
    agenda_item: str | None = Field(None, max_length=32, examples=["4 (a)"])
    agenda_item_title: str | None = Field(None, max_length=300)
    agenda_symbol: str | None = Field(
        None, max_length=64, description="symbol of the provisional agenda (the item's footnote)"
    )
    report_introduction: str | None = Field(
        None, max_length=20_000, description="paragraphs (blank-line separated) after the generated ones"
    )
    report_possible_action: str | None = Field(
        None, max_length=20_000, description="the 'Possible action' paragraph(s), if any"
    )
    conventions: list[CodeText] = Field(default_factory=list, description="convention codes")


class MeetingUpdate(WriteModel):
    code: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=32)
    kind: Annotated[MeetingKind | None, NotNull] = None
    number: Annotated[int | None, NotNull] = Field(None, ge=1)
    title: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=300)
    venue: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=200)
    starts_on: Annotated[date | None, NotNull] = None
    ends_on: Annotated[date | None, NotNull] = None
    document_deadline_override: date | None = None
    document_symbol_prefix: str | None = Field(None, max_length=64)
    report_symbol: str | None = Field(
        None, max_length=64, description="symbol of the progress report, e.g. UNEP/POPS/COP.5/INF/21"
    )
    agenda_item: str | None = Field(None, max_length=32, examples=["4 (a)"])
    agenda_item_title: str | None = Field(None, max_length=300)
    agenda_symbol: str | None = Field(
        None, max_length=64, description="symbol of the provisional agenda (the item's footnote)"
    )
    report_introduction: str | None = Field(
        None, max_length=20_000, description="paragraphs (blank-line separated) after the generated ones"
    )
    report_possible_action: str | None = Field(
        None, max_length=20_000, description="the 'Possible action' paragraph(s), if any"
    )
    conventions: Annotated[list[CodeText] | None, NotNull] = Field(None, description="convention codes")


class MeetingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    kind: MeetingKind
    number: int
    title: str
    venue: str
    starts_on: date
    ends_on: date
    document_deadline_override: date | None
    document_deadline: date = Field(description="the override, or six weeks before the opening")
    document_symbol_prefix: str | None
    source: str | None = Field(
        None,
        description='provenance of loaded data ("Note …, para. 13", or "Illustrative …"); null when entered',
    )
    report_symbol: str | None
    agenda_item: str | None
    agenda_item_title: str | None
    agenda_symbol: str | None
    report_introduction: str | None
    report_possible_action: str | None
    conventions: CodeList
    version: int
    created_at: datetime
    updated_at: datetime


async def announce_meeting_change(request: Request, session: AsyncSession, meeting_id: int) -> None:
    """Let the workflows re-time the meeting's report draft and the report_to_cop due dates that
    follow it; commit first so they see the change."""
    hooks = getattr(request.app.state, "lifecycle_hooks", None)
    if hooks is not None:
        await session.commit()
        await hooks.meeting_changed(meeting_id)


@router.get("", summary="List meetings", response_model=Page[MeetingRead])
async def list_meetings(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    kind: MeetingKind | None = None,
    convention: Annotated[str | None, Query(description="convention code")] = None,
    q: Annotated[str | None, Query(description="text in code, title or venue")] = None,
) -> Page[MeetingRead]:
    rows, next_cursor = await paginate(session, meeting_query(kind, convention, q), SORTING, page)
    return Page(items=[MeetingRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, summary="Create a meeting", response_model=MeetingRead)
async def post_meeting(
    principal: Admin, session: SessionDep, request: Request, response: Response, data: MeetingCreate
) -> MeetingRead:
    meeting = await MEETINGS.create(session, data.model_dump())
    await announce_meeting_change(request, session, meeting.id)  # schedules its report draft
    return tagged(response, MeetingRead, meeting)


@router.get("/{meeting_id}", summary="One meeting", response_model=MeetingRead)
async def read_meeting(
    principal: Reader, session: SessionDep, response: Response, meeting_id: int
) -> MeetingRead:
    return tagged(response, MeetingRead, await MEETINGS.get(session, meeting_id))


@router.patch("/{meeting_id}", summary="Change a meeting", response_model=MeetingRead)
async def patch_meeting(
    principal: Admin,
    session: SessionDep,
    request: Request,
    response: Response,
    meeting_id: int,
    data: MeetingUpdate,
    if_match: IfMatch = None,
) -> MeetingRead:
    meeting = await MEETINGS.get(session, meeting_id)
    if await meetings.update_meeting(session, meeting, data.model_dump(exclude_unset=True), if_match):
        await announce_meeting_change(request, session, meeting.id)
    return tagged(response, MeetingRead, meeting)


@router.delete("/{meeting_id}", status_code=204, summary="Delete a meeting")
async def delete_meeting(
    principal: Admin, session: SessionDep, meeting_id: int, if_match: IfMatch = None
) -> None:
    await MEETINGS.delete(session, await MEETINGS.get(session, meeting_id), if_match)
