"""COP decisions and the provisions (operative paragraphs) they adopted; admins manage them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, set_etag
from api.pagination import Page, PageQuery, Sorting, paginate
from api.schemas import CodeText, ElementCodeList, NotNull, WriteModel
from core.versions import check_if_match
from models import Convention, Decision, Provision
from services.records import (
    add_and_flush,
    apply_changes,
    delete_row,
    ensure_unique,
    get_or_404,
    load_by_keys,
    require_reference,
)

router = APIRouter(prefix="/decisions", tags=["reference data"])


class DecisionCreate(WriteModel):
    symbol: str = Field(min_length=1, max_length=32, examples=["BC-IX/10"])
    convention_code: str = Field(min_length=1, max_length=16)
    title: str = Field(min_length=1, max_length=300)
    adopted_at: str | None = Field(None, max_length=200, description="meeting, e.g. COP-9")
    adopted_on: date | None = None
    provisions: list[CodeText] = Field(default_factory=list, description="provision element codes")


class DecisionUpdate(WriteModel):
    symbol: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=32)
    convention_code: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=16)
    title: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=300)
    adopted_at: str | None = Field(None, max_length=200)
    adopted_on: date | None = None
    provisions: Annotated[list[CodeText] | None, NotNull] = Field(None, description="provision element codes")


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    symbol: str
    convention_code: str
    title: str
    adopted_at: str | None
    adopted_on: date | None
    provisions: ElementCodeList
    version: int
    created_at: datetime
    updated_at: datetime


SORTING = Sorting(
    {"id": Decision.id, "symbol": Decision.symbol, "adopted_on": Decision.adopted_on},
    default="symbol",
    tiebreak=Decision.id,
)
_WITH_PROVISIONS = (selectinload(Decision.provisions),)


def decision_query(convention: str | None, provision: str | None, q: str | None) -> Select[Any]:
    statement = select(Decision).options(*_WITH_PROVISIONS)
    if convention:
        statement = statement.where(Decision.convention_code == convention)
    if provision:
        statement = statement.where(Decision.provisions.any(Provision.element_code == provision))
    if q:
        statement = statement.where(
            or_(
                Decision.symbol.icontains(q, autoescape=True),
                Decision.title.icontains(q, autoescape=True),
            )
        )
    return statement


async def get_decision_or_404(session: AsyncSession, decision_id: int) -> Decision:
    return await get_or_404(session, Decision, decision_id, label="decision", options=_WITH_PROVISIONS)


async def _provisions(session: AsyncSession, codes: list[str]) -> list[Provision]:
    return await load_by_keys(session, Provision.element_code, codes, field="provisions", label="provision")


async def _check_convention(session: AsyncSession, code: str) -> None:
    await require_reference(session, Convention, code, field="convention_code", label="convention")


async def create_decision(session: AsyncSession, data: DecisionCreate) -> Decision:
    await ensure_unique(session, Decision.symbol, data.symbol, label="decision")
    await _check_convention(session, data.convention_code)
    decision = Decision(
        **data.model_dump(exclude={"provisions"}),
        provisions=await _provisions(session, data.provisions),
    )
    return await add_and_flush(session, decision)


async def update_decision(
    session: AsyncSession, decision: Decision, data: DecisionUpdate, if_match: str | None
) -> None:
    check_if_match(if_match, decision.version)
    changes = data.model_dump(exclude_unset=True)
    if "symbol" in changes:
        await ensure_unique(
            session, Decision.symbol, changes["symbol"], label="decision", exclude_id=decision.id
        )
    if "convention_code" in changes:
        await _check_convention(session, changes["convention_code"])
    if "provisions" in changes:
        changes["provisions"] = await _provisions(session, changes["provisions"])
    apply_changes(decision, changes)
    await session.flush()


@router.get("", summary="List decisions", response_model=Page[DecisionRead])
async def list_decisions(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    convention: Annotated[str | None, Query(description="convention code")] = None,
    provision: Annotated[str | None, Query(description="provision element code")] = None,
    q: Annotated[str | None, Query(description="text in symbol or title")] = None,
) -> Page[DecisionRead]:
    statement = decision_query(convention, provision, q)
    rows, next_cursor = await paginate(session, statement, SORTING, page)
    return Page(items=[DecisionRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, summary="Create a decision", response_model=DecisionRead)
async def post_decision(
    principal: Admin, session: SessionDep, response: Response, data: DecisionCreate
) -> DecisionRead:
    decision = await create_decision(session, data)
    set_etag(response, decision.version)
    return DecisionRead.model_validate(decision)


@router.get("/{decision_id}", summary="One decision", response_model=DecisionRead)
async def read_decision(
    principal: Reader, session: SessionDep, response: Response, decision_id: int
) -> DecisionRead:
    decision = await get_decision_or_404(session, decision_id)
    set_etag(response, decision.version)
    return DecisionRead.model_validate(decision)


@router.patch("/{decision_id}", summary="Change a decision", response_model=DecisionRead)
async def patch_decision(
    principal: Admin,
    session: SessionDep,
    response: Response,
    decision_id: int,
    data: DecisionUpdate,
    if_match: IfMatch = None,
) -> DecisionRead:
    decision = await get_decision_or_404(session, decision_id)
    await update_decision(session, decision, data, if_match)
    set_etag(response, decision.version)
    return DecisionRead.model_validate(decision)


@router.delete("/{decision_id}", status_code=204, summary="Delete a decision")
async def delete_decision(
    principal: Admin, session: SessionDep, decision_id: int, if_match: IfMatch = None
) -> None:
    decision = await get_decision_or_404(session, decision_id)
    await delete_row(session, decision, if_match, label="decision")
