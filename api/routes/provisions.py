"""Provisions: the operative paragraphs that mandate joint activities, with their citation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Admin, Reader, SessionDep
from api.etag import IfMatch, tagged
from api.pagination import Page, PageQuery
from api.schemas import CodeList, CodeText, LongText, NotNull, SymbolList, WriteModel
from models import ProvisionStatus
from services.pagination import paginate
from services.provisions import PROVISIONS, SORTING, provision_query

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
    return tagged(response, ProvisionRead, await PROVISIONS.create(session, data.model_dump()))


@router.get("/{provision_id}", summary="One provision", response_model=ProvisionRead)
async def read_provision(
    principal: Reader, session: SessionDep, response: Response, provision_id: int
) -> ProvisionRead:
    return tagged(response, ProvisionRead, await PROVISIONS.get(session, provision_id))


@router.patch("/{provision_id}", summary="Change a provision", response_model=ProvisionRead)
async def patch_provision(
    principal: Admin,
    session: SessionDep,
    response: Response,
    provision_id: int,
    data: ProvisionUpdate,
    if_match: IfMatch = None,
) -> ProvisionRead:
    provision = await PROVISIONS.get(session, provision_id)
    changes = data.model_dump(exclude_unset=True)
    return tagged(response, ProvisionRead, await PROVISIONS.update(session, provision, changes, if_match))


@router.delete("/{provision_id}", status_code=204, summary="Delete a provision")
async def delete_provision(
    principal: Admin, session: SessionDep, provision_id: int, if_match: IfMatch = None
) -> None:
    provision = await PROVISIONS.get(session, provision_id)
    await PROVISIONS.delete(session, provision, if_match)
