"""Provisions: the operative paragraphs that mandate joint activities, with their citation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, set_etag
from api.pagination import Page, PageQuery, Sorting, paginate
from api.schemas import CodeList, CodeText, LongText, NotNull, SymbolList, WriteModel
from core.versions import check_if_match
from models import Decision, Provision, ProvisionStatus
from services.records import (
    add_and_flush,
    apply_changes,
    delete_row,
    ensure_unique,
    get_or_404,
    load_by_keys,
    require_reference,
)

router = APIRouter(prefix="/provisions", tags=["reference data"])


class ProvisionCreate(WriteModel):
    element_code: str = Field(min_length=1, max_length=64)
    section: str | None = Field(None, max_length=8)
    section_title: str | None = Field(None, max_length=200)
    subsection: str | None = Field(None, max_length=8)
    subsection_title: str | None = Field(None, max_length=200)
    paragraph: str = Field(min_length=1, max_length=16)
    subparagraph: str | None = Field(None, max_length=16)
    text: LongText = Field(min_length=1)
    status: ProvisionStatus = ProvisionStatus.ACTIVE
    parent_id: int | None = None
    sort_key: str | None = Field(None, max_length=64, description="defaults to element_code")
    decisions: list[CodeText] = Field(default_factory=list, description="decision symbols")


class ProvisionUpdate(WriteModel):
    element_code: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=64)
    section: str | None = Field(None, max_length=8)
    section_title: str | None = Field(None, max_length=200)
    subsection: str | None = Field(None, max_length=8)
    subsection_title: str | None = Field(None, max_length=200)
    paragraph: Annotated[str | None, NotNull] = Field(None, min_length=1, max_length=16)
    subparagraph: str | None = Field(None, max_length=16)
    text: Annotated[LongText | None, NotNull] = Field(None, min_length=1)
    status: Annotated[ProvisionStatus | None, NotNull] = None
    parent_id: int | None = None
    sort_key: Annotated[str | None, NotNull] = Field(None, max_length=64)
    decisions: Annotated[list[CodeText] | None, NotNull] = Field(None, description="decision symbols")


class ProvisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    element_code: str
    section: str | None
    section_title: str | None
    subsection: str | None
    subsection_title: str | None
    paragraph: str
    subparagraph: str | None
    text: str
    status: ProvisionStatus
    parent_id: int | None
    sort_key: str
    decisions: SymbolList
    conventions: CodeList = Field(validation_alias="convention_codes")
    citation: str
    version: int
    created_at: datetime
    updated_at: datetime


SORTING = Sorting(
    {
        "id": Provision.id,
        "sort_key": Provision.sort_key,
        "element_code": Provision.element_code,
        "status": Provision.status,
    },
    default="sort_key",
    tiebreak=Provision.id,
)


def provision_query(
    decision: str | None,
    convention: str | None,
    section: str | None,
    status: ProvisionStatus | None,
    q: str | None,
) -> Select[Any]:
    statement = select(Provision)
    if decision:
        statement = statement.where(Provision.decisions.any(Decision.symbol == decision))
    if convention:
        statement = statement.where(Provision.decisions.any(Decision.convention_code == convention))
    if section:
        statement = statement.where(Provision.section == section)
    if status is not None:
        statement = statement.where(Provision.status == status)
    if q:
        statement = statement.where(
            or_(
                Provision.element_code.icontains(q, autoescape=True),
                Provision.text.icontains(q, autoescape=True),
            )
        )
    return statement


async def get_provision_or_404(session: AsyncSession, provision_id: int) -> Provision:
    return await get_or_404(session, Provision, provision_id, label="provision")


async def _decisions(session: AsyncSession, symbols: list[str]) -> list[Decision]:
    return await load_by_keys(session, Decision.symbol, symbols, field="decisions", label="decision")


async def _check_parent(session: AsyncSession, parent_id: int | None) -> None:
    await require_reference(session, Provision, parent_id, field="parent_id", label="provision")


async def create_provision(session: AsyncSession, data: ProvisionCreate) -> Provision:
    await ensure_unique(session, Provision.element_code, data.element_code, label="provision")
    await _check_parent(session, data.parent_id)
    values = data.model_dump(exclude={"decisions"})
    values["sort_key"] = data.sort_key or data.element_code
    provision = Provision(**values, decisions=await _decisions(session, data.decisions))
    return await add_and_flush(session, provision)


async def update_provision(
    session: AsyncSession, provision: Provision, data: ProvisionUpdate, if_match: str | None
) -> None:
    check_if_match(if_match, provision.version)
    changes = data.model_dump(exclude_unset=True)
    if "element_code" in changes:
        await ensure_unique(
            session,
            Provision.element_code,
            changes["element_code"],
            label="provision",
            exclude_id=provision.id,
        )
    if "parent_id" in changes:
        await _check_parent(session, changes["parent_id"])
    if "decisions" in changes:
        changes["decisions"] = await _decisions(session, changes["decisions"])
    apply_changes(provision, changes)
    await session.flush()


@router.get("", summary="List provisions", response_model=Page[ProvisionRead])
async def list_provisions(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    decision: Annotated[str | None, Query(description="decision symbol")] = None,
    convention: Annotated[str | None, Query(description="convention code")] = None,
    section: str | None = None,
    status: ProvisionStatus | None = None,
    q: Annotated[str | None, Query(description="text in element code or text")] = None,
) -> Page[ProvisionRead]:
    statement = provision_query(decision, convention, section, status, q)
    rows, next_cursor = await paginate(session, statement, SORTING, page)
    return Page(items=[ProvisionRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, summary="Create a provision", response_model=ProvisionRead)
async def post_provision(
    principal: Admin, session: SessionDep, response: Response, data: ProvisionCreate
) -> ProvisionRead:
    provision = await create_provision(session, data)
    set_etag(response, provision.version)
    return ProvisionRead.model_validate(provision)


@router.get("/{provision_id}", summary="One provision", response_model=ProvisionRead)
async def read_provision(
    principal: Reader, session: SessionDep, response: Response, provision_id: int
) -> ProvisionRead:
    provision = await get_provision_or_404(session, provision_id)
    set_etag(response, provision.version)
    return ProvisionRead.model_validate(provision)


@router.patch("/{provision_id}", summary="Change a provision", response_model=ProvisionRead)
async def patch_provision(
    principal: Admin,
    session: SessionDep,
    response: Response,
    provision_id: int,
    data: ProvisionUpdate,
    if_match: IfMatch = None,
) -> ProvisionRead:
    provision = await get_provision_or_404(session, provision_id)
    await update_provision(session, provision, data, if_match)
    set_etag(response, provision.version)
    return ProvisionRead.model_validate(provision)


@router.delete("/{provision_id}", status_code=204, summary="Delete a provision")
async def delete_provision(
    principal: Admin, session: SessionDep, provision_id: int, if_match: IfMatch = None
) -> None:
    provision = await get_provision_or_404(session, provision_id)
    await delete_row(session, provision, if_match, label="provision")
