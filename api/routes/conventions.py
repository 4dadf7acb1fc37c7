"""The four conventions (reference data loaded by the seed; read-only over the API)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from api.deps import Reader, SessionDep
from api.pagination import Page, PageQuery, Sorting, paginate
from models import Convention
from services.records import get_or_404

router = APIRouter(prefix="/conventions", tags=["reference data"])


class ConventionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    acronym: str
    name: str
    short_name: str


SORTING = Sorting(
    {"code": Convention.code, "acronym": Convention.acronym, "name": Convention.name},
    default="code",
    tiebreak=Convention.code,
)


@router.get("", summary="List conventions", response_model=Page[ConventionRead])
async def list_conventions(principal: Reader, session: SessionDep, page: PageQuery) -> Page[ConventionRead]:
    rows, next_cursor = await paginate(session, select(Convention), SORTING, page)
    items = [ConventionRead.model_validate(row) for row in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{code}", summary="One convention", response_model=ConventionRead)
async def read_convention(principal: Reader, session: SessionDep, code: str) -> ConventionRead:
    return ConventionRead.model_validate(await get_or_404(session, Convention, code, label="convention"))
