"""The four conventions (reference data loaded by the seed; read-only over the API)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from api.deps import Reader, SessionDep
from api.examples import examples
from api.pagination import Page, PageQuery, page_of
from models import Convention
from services.pagination import Sorting, paginate
from services.records import get_or_404

router = APIRouter(prefix="/conventions", tags=["reference data"])


class ConventionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=examples("ConventionRead"))

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
    return page_of(
        page, await paginate(session, select(Convention), SORTING, page), ConventionRead.model_validate
    )


@router.get("/{code}", summary="One convention", response_model=ConventionRead)
async def read_convention(principal: Reader, session: SessionDep, code: str) -> ConventionRead:
    return ConventionRead.model_validate(await get_or_404(session, Convention, code, label="convention"))
