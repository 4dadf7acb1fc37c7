"""COP decisions and the provisions they adopted: their records and lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from models import Convention, Decision, Provision
from services.pagination import Sorting
from services.records import Records, contains_text, load_by_keys, require_reference

SORTING = Sorting.of(Decision, "id", "symbol", "adopted_on", default="symbol")
_WITH_PROVISIONS = (selectinload(Decision.provisions),)


def decision_query(
    convention: str | None = None, provision: str | None = None, q: str | None = None
) -> Select[Any]:
    statement = select(Decision).options(*_WITH_PROVISIONS)
    if convention:
        statement = statement.where(Decision.convention_code == convention)
    if provision:
        statement = statement.where(Decision.provisions.any(Provision.element_code == provision))
    if q:
        statement = statement.where(contains_text(q, Decision.symbol, Decision.title))
    return statement


async def _prepare(session: AsyncSession, values: dict[str, Any], decision: Decision | None) -> None:
    if "convention_code" in values:
        await require_reference(
            session, Convention, values["convention_code"], field="convention_code", label="convention"
        )
    if "provisions" in values:
        values["provisions"] = await load_by_keys(
            session, Provision.element_code, values["provisions"], field="provisions", label="provision"
        )


DECISIONS = Records(Decision, "decision", unique=Decision.symbol, options=_WITH_PROVISIONS, prepare=_prepare)
