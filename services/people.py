"""People and their roles: their records and lists (e-mail addresses kept in lower case)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Role
from models import Person
from services.pagination import Sorting
from services.records import Records, contains_text

SORTING = Sorting.of(Person, "id", "name", "email", default="name")
PEOPLE = Records(Person, "person", unique=Person.email)


def person_query(role: Role | None = None, active: bool | None = None, q: str | None = None) -> Select[Any]:
    statement = select(Person)
    if role is not None:
        statement = statement.where(Person.role == role)
    if active is not None:
        statement = statement.where(Person.active.is_(active))
    if q:
        statement = statement.where(contains_text(q, Person.name, Person.email))
    return statement


def _lower_email(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "email": values["email"].lower()} if "email" in values else values


async def create_person(session: AsyncSession, values: dict[str, Any]) -> Person:
    return await PEOPLE.create(session, _lower_email(values))


async def update_person(
    session: AsyncSession, person: Person, changes: dict[str, Any], if_match: str | None
) -> Person:
    return await PEOPLE.update(session, person, _lower_email(changes), if_match)
