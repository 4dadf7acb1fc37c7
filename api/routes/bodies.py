"""Bodies of the synergies arrangements, and `/thematic-groups`: the same rows with kind fixed.

Admins manage them (reference data). Thematic groups get their own path because activities and task
teams point at them and most clients only ever need that kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, set_etag
from api.pagination import Page, PageQuery, Sorting, paginate
from api.schemas import IdList, LongText, NotNull, WriteModel
from core.errors import NotFound
from core.versions import check_if_match
from models import Body, BodyKind, Person
from services.records import (
    add_and_flush,
    apply_changes,
    delete_row,
    ensure_unique,
    get_or_404,
    load_by_keys,
)

router = APIRouter(prefix="/bodies", tags=["bodies"])
thematic_groups_router = APIRouter(prefix="/thematic-groups", tags=["bodies"])


class ThematicGroupCreate(WriteModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=300)
    mandate: LongText | None = None
    region: str | None = Field(None, max_length=100)
    city: str | None = Field(None, max_length=100)
    email: EmailStr | None = None
    members: list[int] = Field(default_factory=list, description="person ids")


class BodyCreate(ThematicGroupCreate):
    kind: BodyKind


class ThematicGroupUpdate(WriteModel):
    code: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=64)
    name: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=300)
    mandate: LongText | None = None
    region: str | None = Field(None, max_length=100)
    city: str | None = Field(None, max_length=100)
    email: EmailStr | None = None
    members: Annotated[list[int] | None, NotNull] = Field(None, description="person ids")


class BodyUpdate(ThematicGroupUpdate):
    kind: Annotated[BodyKind | None, NotNull] = None


class BodyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    kind: BodyKind
    name: str
    mandate: str | None
    region: str | None
    city: str | None
    email: str | None
    members: IdList
    version: int
    created_at: datetime
    updated_at: datetime


SORTING = Sorting({"id": Body.id, "code": Body.code, "name": Body.name}, default="code", tiebreak=Body.id)


def body_query(kind: BodyKind | None, q: str | None) -> Select[Any]:
    statement = select(Body)
    if kind is not None:
        statement = statement.where(Body.kind == kind)
    if q:
        statement = statement.where(
            or_(Body.code.icontains(q, autoescape=True), Body.name.icontains(q, autoescape=True))
        )
    return statement


async def get_body_or_404(session: AsyncSession, body_id: int, kind: BodyKind | None = None) -> Body:
    body = await get_or_404(session, Body, body_id, label="body")
    if kind is not None and body.kind is not kind:
        raise NotFound(f"body {body_id} is a {body.kind.value}, not a {kind.value}")
    return body


async def _members(session: AsyncSession, ids: list[int]) -> list[Person]:
    return await load_by_keys(session, Person.id, ids, field="members", label="person")


async def create_body(session: AsyncSession, data: ThematicGroupCreate, kind: BodyKind) -> Body:
    await ensure_unique(session, Body.code, data.code, label="body")
    values = data.model_dump(exclude={"members", "kind"})
    body = Body(**values, kind=kind, members=await _members(session, data.members))
    return await add_and_flush(session, body)


async def update_body(
    session: AsyncSession, body: Body, data: ThematicGroupUpdate, if_match: str | None
) -> None:
    check_if_match(if_match, body.version)
    changes = data.model_dump(exclude_unset=True)
    if "code" in changes:
        await ensure_unique(session, Body.code, changes["code"], label="body", exclude_id=body.id)
    if "members" in changes:
        changes["members"] = await _members(session, changes["members"])
    apply_changes(body, changes)
    await session.flush()


def _read(response: Response, body: Body) -> BodyRead:
    set_etag(response, body.version)
    return BodyRead.model_validate(body)


@router.get("", summary="List bodies", response_model=Page[BodyRead])
async def list_bodies(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    kind: BodyKind | None = None,
    q: Annotated[str | None, Query(description="text in code or name")] = None,
) -> Page[BodyRead]:
    rows, next_cursor = await paginate(session, body_query(kind, q), SORTING, page)
    return Page(items=[BodyRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, summary="Create a body", response_model=BodyRead)
async def post_body(principal: Admin, session: SessionDep, response: Response, data: BodyCreate) -> BodyRead:
    return _read(response, await create_body(session, data, data.kind))


@router.get("/{body_id}", summary="One body", response_model=BodyRead)
async def read_body(principal: Reader, session: SessionDep, response: Response, body_id: int) -> BodyRead:
    return _read(response, await get_body_or_404(session, body_id))


@router.patch("/{body_id}", summary="Change a body", response_model=BodyRead)
async def patch_body(
    principal: Admin,
    session: SessionDep,
    response: Response,
    body_id: int,
    data: BodyUpdate,
    if_match: IfMatch = None,
) -> BodyRead:
    body = await get_body_or_404(session, body_id)
    await update_body(session, body, data, if_match)
    return _read(response, body)


@router.delete("/{body_id}", status_code=204, summary="Delete a body")
async def delete_body(principal: Admin, session: SessionDep, body_id: int, if_match: IfMatch = None) -> None:
    body = await get_body_or_404(session, body_id)
    await delete_row(session, body, if_match, label="body")


THEMATIC = BodyKind.THEMATIC_GROUP


@thematic_groups_router.get("", summary="List thematic groups", response_model=Page[BodyRead])
async def list_thematic_groups(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    q: Annotated[str | None, Query(description="text in code or name")] = None,
) -> Page[BodyRead]:
    rows, next_cursor = await paginate(session, body_query(THEMATIC, q), SORTING, page)
    return Page(items=[BodyRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@thematic_groups_router.post("", status_code=201, summary="Create a thematic group", response_model=BodyRead)
async def post_thematic_group(
    principal: Admin, session: SessionDep, response: Response, data: ThematicGroupCreate
) -> BodyRead:
    return _read(response, await create_body(session, data, THEMATIC))


@thematic_groups_router.get("/{group_id}", summary="One thematic group", response_model=BodyRead)
async def read_thematic_group(
    principal: Reader, session: SessionDep, response: Response, group_id: int
) -> BodyRead:
    return _read(response, await get_body_or_404(session, group_id, THEMATIC))


@thematic_groups_router.patch("/{group_id}", summary="Change a thematic group", response_model=BodyRead)
async def patch_thematic_group(
    principal: Admin,
    session: SessionDep,
    response: Response,
    group_id: int,
    data: ThematicGroupUpdate,
    if_match: IfMatch = None,
) -> BodyRead:
    body = await get_body_or_404(session, group_id, THEMATIC)
    await update_body(session, body, data, if_match)
    return _read(response, body)


@thematic_groups_router.delete("/{group_id}", status_code=204, summary="Delete a thematic group")
async def delete_thematic_group(
    principal: Admin, session: SessionDep, group_id: int, if_match: IfMatch = None
) -> None:
    body = await get_body_or_404(session, group_id, THEMATIC)
    await delete_row(session, body, if_match, label="thematic group")
