"""Bodies of the synergies arrangements, and `/thematic-groups`: the same rows with kind fixed.

Admins manage them (reference data). Thematic groups get their own path because activities and task
teams point at them and most clients only ever need that kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.schemas import IdList, LongText, NotNull, WriteModel
from models import BodyKind
from services import bodies
from services.bodies import BODIES, SORTING, body_query
from services.pagination import paginate

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


THEMATIC = BodyKind.THEMATIC_GROUP


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
    return tagged(response, BodyRead, await BODIES.create(session, data.model_dump()))


@router.get("/{body_id}", summary="One body", response_model=BodyRead)
async def read_body(principal: Reader, session: SessionDep, response: Response, body_id: int) -> BodyRead:
    return tagged(response, BodyRead, await bodies.get_body(session, body_id))


@router.patch("/{body_id}", summary="Change a body", response_model=BodyRead)
async def patch_body(
    principal: Admin,
    session: SessionDep,
    response: Response,
    body_id: int,
    data: BodyUpdate,
    if_match: IfMatch = None,
) -> BodyRead:
    body = await bodies.get_body(session, body_id)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, BodyRead, await BODIES.update(session, body, changes, if_match))


@router.delete("/{body_id}", status_code=204, summary="Delete a body")
async def delete_body(principal: Admin, session: SessionDep, body_id: int, if_match: IfMatch = None) -> None:
    await BODIES.delete(session, await bodies.get_body(session, body_id), if_match)


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
    values = {**data.model_dump(), "kind": THEMATIC}
    return tagged(response, BodyRead, await BODIES.create(session, values))


@thematic_groups_router.get("/{group_id}", summary="One thematic group", response_model=BodyRead)
async def read_thematic_group(
    principal: Reader, session: SessionDep, response: Response, group_id: int
) -> BodyRead:
    return tagged(response, BodyRead, await bodies.get_body(session, group_id, THEMATIC))


@thematic_groups_router.patch("/{group_id}", summary="Change a thematic group", response_model=BodyRead)
async def patch_thematic_group(
    principal: Admin,
    session: SessionDep,
    response: Response,
    group_id: int,
    data: ThematicGroupUpdate,
    if_match: IfMatch = None,
) -> BodyRead:
    body = await bodies.get_body(session, group_id, THEMATIC)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, BodyRead, await BODIES.update(session, body, changes, if_match))


@thematic_groups_router.delete("/{group_id}", status_code=204, summary="Delete a thematic group")
async def delete_thematic_group(
    principal: Admin, session: SessionDep, group_id: int, if_match: IfMatch = None
) -> None:
    body = await bodies.get_body(session, group_id, THEMATIC)
    await BODIES.delete(session, body, if_match, label="thematic group")
