"""The list endpoints' page: query parameters in, `Page` out (the keyset machinery is
services/pagination.py)."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from services.pagination import MAX_LIMIT, PageParams

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _page_params(
    sort: Annotated[str | None, Query(description="`field` ascending or `-field` descending")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> PageParams:
    return PageParams(sort=sort, cursor=cursor, limit=limit)


PageQuery = Annotated[PageParams, Depends(_page_params)]
