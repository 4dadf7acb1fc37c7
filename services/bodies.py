"""Bodies of the synergies arrangements (thematic groups among them): their records and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from models import Body, BodyKind, Person
from services.pagination import Sorting
from services.records import Records, contains_text, load_by_keys

SORTING = Sorting.of(Body, "id", "code", "name", default="code")


def body_query(kind: BodyKind | None = None, q: str | None = None) -> Select[Any]:
    statement = select(Body)
    if kind is not None:
        statement = statement.where(Body.kind == kind)
    if q:
        statement = statement.where(contains_text(q, Body.code, Body.name))
    return statement


async def _members(session: AsyncSession, values: dict[str, Any], body: Body | None) -> None:
    if "members" in values:
        values["members"] = await load_by_keys(
            session, Person.id, values["members"], field="members", label="person"
        )


BODIES = Records(Body, "body", unique=Body.code, prepare=_members)


async def get_body(session: AsyncSession, body_id: int, kind: BodyKind | None = None) -> Body:
    """The body; 404 also when it is not of `kind`."""
    body = await BODIES.get(session, body_id)
    if kind is not None and body.kind is not kind:
        raise NotFound(f"body {body_id} is a {body.kind.value}, not a {kind.value}")
    return body
