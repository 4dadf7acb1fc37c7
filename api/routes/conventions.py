"""The four conventions (reference data loaded by the seed; read-only over the API)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import Reader, SessionDep
from api.pagination import Page, PageQuery
from services.conventions import CONVENTIONS, SORTING, convention_query
from services.pagination import paginate

router = APIRouter(prefix="/conventions", tags=["reference data"])


class ConventionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    acronym: str
    name: str
    short_name: str


@router.get("", summary="List conventions", response_model=Page[ConventionRead])
async def list_conventions(principal: Reader, session: SessionDep, page: PageQuery) -> Page[ConventionRead]:
    rows, next_cursor = await paginate(session, convention_query(), SORTING, page)
    items = [ConventionRead.model_validate(row) for row in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{code}", summary="One convention", response_model=ConventionRead)
async def read_convention(principal: Reader, session: SessionDep, code: str) -> ConventionRead:
    return ConventionRead.model_validate(await CONVENTIONS.get(session, code))
