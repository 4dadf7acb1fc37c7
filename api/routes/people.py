"""People and their roles: admins manage them, everyone reads them.

`/me` (the caller's own record and settings) is served by api/routes/notifications.py.
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
from api.schemas import NotNull, WriteModel
from core.stages import Role
from core.versions import check_if_match
from models import Person
from services.records import (
    add_and_flush,
    apply_changes,
    delete_row,
    ensure_unique,
    get_or_404,
)

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


SORTING = Sorting(
    {"id": Person.id, "name": Person.name, "email": Person.email},
    default="name",
    tiebreak=Person.id,
)


def person_query(role: Role | None, active: bool | None, q: str | None) -> Select[Any]:
    statement = select(Person)
    if role is not None:
        statement = statement.where(Person.role == role)
    if active is not None:
        statement = statement.where(Person.active.is_(active))
    if q:
        statement = statement.where(
            or_(
                Person.name.icontains(q, autoescape=True),
                Person.email.icontains(q, autoescape=True),
            )
        )
    return statement


async def get_person_or_404(session: AsyncSession, person_id: int) -> Person:
    return await get_or_404(session, Person, person_id, label="person")


async def create_person(session: AsyncSession, data: PersonCreate) -> Person:
    email = data.email.lower()
    await ensure_unique(session, Person.email, email, label="person")
    return await add_and_flush(session, Person(**{**data.model_dump(), "email": email}))


async def update_person(
    session: AsyncSession, person: Person, data: PersonUpdate, if_match: str | None
) -> None:
    check_if_match(if_match, person.version)
    changes = data.model_dump(exclude_unset=True)
    if "email" in changes:
        changes["email"] = changes["email"].lower()
        await ensure_unique(session, Person.email, changes["email"], label="person", exclude_id=person.id)
    apply_changes(person, changes)
    await session.flush()


def _read(response: Response, person: Person) -> PersonRead:
    set_etag(response, person.version)
    return PersonRead.model_validate(person)


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
    return _read(response, await create_person(session, data))


@router.get("/{person_id}", summary="One person", response_model=PersonRead)
async def read_person(
    principal: Reader, session: SessionDep, response: Response, person_id: int
) -> PersonRead:
    return _read(response, await get_person_or_404(session, person_id))


@router.patch("/{person_id}", summary="Change a person", response_model=PersonRead)
async def patch_person(
    principal: Admin,
    session: SessionDep,
    response: Response,
    person_id: int,
    data: PersonUpdate,
    if_match: IfMatch = None,
) -> PersonRead:
    person = await get_person_or_404(session, person_id)
    await update_person(session, person, data, if_match)
    return _read(response, person)


@router.delete(
    "/{person_id}",
    status_code=204,
    summary="Delete a person (409 while referenced; deactivate instead)",
)
async def delete_person(
    principal: Admin, session: SessionDep, person_id: int, if_match: IfMatch = None
) -> None:
    person = await get_person_or_404(session, person_id)
    await delete_row(session, person, if_match, label="person")
