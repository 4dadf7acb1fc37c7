"""People and their API tokens as the CLI manages them; the checks live here, not in commands."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, DomainError, NotFound
from core.stages import Role
from models import ApiToken, Person

_EMAIL = TypeAdapter(EmailStr)


@dataclass(frozen=True)
class Principal:
    """Who is asking, whatever the way in (API token, OIDC, the web app's session)."""

    person_id: int
    role: Role
    name: str
    email: str


def valid_email(email: str) -> str:
    try:
        return _EMAIL.validate_python(email.strip())
    except ValidationError as error:
        raise DomainError(
            f"{email!r} is not a valid email address", status=422, code="invalid_email"
        ) from error


async def create_person(
    session: AsyncSession, *, name: str, email: str, role: Role, secretariat: str | None = None
) -> Person:
    """A new person; refuses an empty name, a malformed email or one already taken."""
    if not name.strip():
        raise DomainError("the name must not be empty", status=422, code="invalid_name")
    email = valid_email(email)
    if await session.scalar(select(Person.id).where(func.lower(Person.email) == email.lower())):
        raise Conflict(f"a person with email {email} already exists", code="duplicate_email")
    person = Person(name=name.strip(), email=email, role=role, secretariat=secretariat)
    session.add(person)
    await session.flush()
    return person


async def person_by_email(session: AsyncSession, email: str) -> Person:
    person = await session.scalar(select(Person).where(func.lower(Person.email) == email.strip().lower()))
    if person is None:
        raise NotFound(f"no person with email {email}; create one with `synergies person create`")
    return person


async def tokens_of(session: AsyncSession, person: Person) -> list[ApiToken]:
    """The person's tokens, newest first, revoked ones included (the list is an audit aid)."""
    rows = await session.scalars(
        select(ApiToken)
        .where(ApiToken.person_id == person.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list(rows)
