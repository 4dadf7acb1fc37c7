"""COP decisions and the provisions (operative paragraphs) they adopted; admins manage them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.schemas import CodeText, ElementCodeList, NotNull, WriteModel
from services.decisions import DECISIONS, SORTING, decision_query
from services.pagination import paginate

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
    return tagged(response, DecisionRead, await DECISIONS.create(session, data.model_dump()))


@router.get("/{decision_id}", summary="One decision", response_model=DecisionRead)
async def read_decision(
    principal: Reader, session: SessionDep, response: Response, decision_id: int
) -> DecisionRead:
    return tagged(response, DecisionRead, await DECISIONS.get(session, decision_id))


@router.patch("/{decision_id}", summary="Change a decision", response_model=DecisionRead)
async def patch_decision(
    principal: Admin,
    session: SessionDep,
    response: Response,
    decision_id: int,
    data: DecisionUpdate,
    if_match: IfMatch = None,
) -> DecisionRead:
    decision = await DECISIONS.get(session, decision_id)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, DecisionRead, await DECISIONS.update(session, decision, changes, if_match))


@router.delete("/{decision_id}", status_code=204, summary="Delete a decision")
async def delete_decision(
    principal: Admin, session: SessionDep, decision_id: int, if_match: IfMatch = None
) -> None:
    await DECISIONS.delete(session, await DECISIONS.get(session, decision_id), if_match)
