"""The four conventions (reference data loaded by the seed; read-only over the API)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import Reader, SessionDep
from api.examples import examples
from api.pagination import Page, PageQuery, page_of
from services.conventions import CONVENTIONS, SORTING, convention_query
from services.pagination import paginate

router = APIRouter(prefix="/conventions", tags=["reference data"])


class ConventionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=examples("ConventionRead"))

    code: str
    acronym: str
    name: str
    short_name: str


@router.get("", summary="List conventions", response_model=Page[ConventionRead])
async def list_conventions(principal: Reader, session: SessionDep, page: PageQuery) -> Page[ConventionRead]:
    return page_of(
        page, await paginate(session, convention_query(), SORTING, page), ConventionRead.model_validate
    )


@router.get("/{code}", summary="One convention", response_model=ConventionRead)
async def read_convention(principal: Reader, session: SessionDep, code: str) -> ConventionRead:
    return ConventionRead.model_validate(await CONVENTIONS.get(session, code))
