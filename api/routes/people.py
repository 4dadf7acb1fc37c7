"""People and their roles: admins manage them, everyone reads them.

`/me` (the caller's own record and settings) is served by api/routes/notifications.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.schemas import NotNull, WriteModel
from core.stages import Role
from services import people
from services.pagination import paginate
from services.people import PEOPLE, SORTING, person_query

router = APIRouter(prefix="/people", tags=["people"])


class PersonCreate(WriteModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    role: Role
    secretariat: str | None = Field(None, max_length=64)
    active: bool = True
    daily_digest: bool = False


class PersonUpdate(WriteModel):
    name: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=200)
    email: Annotated[EmailStr | None, NotNull] = None
    role: Annotated[Role | None, NotNull] = None
    secretariat: str | None = Field(None, max_length=64)
    active: Annotated[bool | None, NotNull] = None
    daily_digest: Annotated[bool | None, NotNull] = None


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    role: Role
    secretariat: str | None
    active: bool
    daily_digest: bool
    version: int
    created_at: datetime
    updated_at: datetime


@router.get("", summary="List people", response_model=Page[PersonRead])
async def list_people(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    role: Role | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(description="text in name or email")] = None,
) -> Page[PersonRead]:
    rows, next_cursor = await paginate(session, person_query(role, active, q), SORTING, page)
    return Page(items=[PersonRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, summary="Add a person", response_model=PersonRead)
async def post_person(
    principal: Admin, session: SessionDep, response: Response, data: PersonCreate
) -> PersonRead:
    return tagged(response, PersonRead, await people.create_person(session, data.model_dump()))


@router.get("/{person_id}", summary="One person", response_model=PersonRead)
async def read_person(
    principal: Reader, session: SessionDep, response: Response, person_id: int
) -> PersonRead:
    return tagged(response, PersonRead, await PEOPLE.get(session, person_id))


@router.patch("/{person_id}", summary="Change a person", response_model=PersonRead)
async def patch_person(
    principal: Admin,
    session: SessionDep,
    response: Response,
    person_id: int,
    data: PersonUpdate,
    if_match: IfMatch = None,
) -> PersonRead:
    person = await PEOPLE.get(session, person_id)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, PersonRead, await people.update_person(session, person, changes, if_match))


@router.delete(
    "/{person_id}",
    status_code=204,
    summary="Delete a person (409 while referenced; deactivate instead)",
)
async def delete_person(
    principal: Admin, session: SessionDep, person_id: int, if_match: IfMatch = None
) -> None:
    await PEOPLE.delete(session, await PEOPLE.get(session, person_id), if_match)
