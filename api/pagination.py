"""The one list envelope of every collection endpoint, and its query parameters (the keyset
machinery is services/pagination.py).

Every list of the JSON API answers `Page`: `{"items": [...], "next_cursor", "prev_cursor", "total"}`
and sends the same cursors as RFC 8288 `Link` headers (`rel="next"`, `rel="prev"`): the request's
own URL with the cursor parameter replaced, every other query parameter kept. `total` is counted
(one COUNT query) only when the client asks `?count=true`; otherwise it is null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import URL

from services.pagination import MAX_LIMIT, PageParams, Slice

T = TypeVar("T")

NEXT_EXAMPLE = "eyJzIjogImlkIiwgInYiOiA3NSwgInQiOiA3NX0"  # encode_cursor("id", 75, 75)
PREV_EXAMPLE = "eyJzIjogImlkIiwgInYiOiA1MSwgInQiOiA1MSwgImQiOiAicHJldiJ9"  # ... 51, 51, before=True


def _page_examples(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """A `Page[X]` is documented with X's own example as its item (every item schema has one)."""
    item_type = model.model_fields["items"].annotation
    args = getattr(item_type, "__args__", ())
    item_class = args[0] if args else None
    config = getattr(item_class, "model_config", None) or getattr(item_class, "__pydantic_config__", {})
    extra = config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    item = examples[0] if examples else None
    example: dict[str, Any] = {
        "items": [item] if item is not None else [],
        "next_cursor": NEXT_EXAMPLE,
        "prev_cursor": PREV_EXAMPLE,
        "total": 137,
    }
    schema["examples"] = [example | getattr(model, "example_extra", {})]


class Page(BaseModel, Generic[T]):
    """The envelope of every list: one page of `items`, the cursors of the pages around it (also
    sent as `Link` headers) and, with `?count=true`, the number of items on all pages."""

    model_config = ConfigDict(json_schema_extra=_page_examples)
    example_extra: ClassVar[dict[str, Any]] = {}
    """What a subclass adds to the example (its own fields)."""

    items: list[T]
    next_cursor: str | None = Field(
        None, description="pass as `cursor` for the next page; null on the last page"
    )
    prev_cursor: str | None = Field(
        None, description="pass as `cursor` for the page before; null on the first page"
    )
    total: int | None = Field(
        None, description="items on all pages; counted only with `?count=true`, else null"
    )


@dataclass(frozen=True)
class PageRequest(PageParams):
    """The page a request asks for, with what the `Link` header is built from."""

    url: URL | None = field(default=None, compare=False, repr=False)
    response: Response | None = field(default=None, compare=False, repr=False)


CountQuery = Annotated[
    bool, Query(description="also count the items on all pages (`total`); costs one COUNT query")
]


def _page_params(
    request: Request,
    response: Response,
    sort: Annotated[str | None, Query(description="`field` ascending or `-field` descending")] = None,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` or `prev_cursor` of the page you have")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    count: CountQuery = False,
) -> PageRequest:
    return PageRequest(sort, cursor, limit, count, url=request.url, response=response)


PageQuery = Annotated[PageRequest, Depends(_page_params)]


@dataclass(frozen=True)
class ListParams:
    """What an unpaginated list (a short one: the conventions, an activity's log) reads: `count`."""

    count: bool = False


def _list_params(count: CountQuery = False) -> ListParams:
    return ListParams(count)


ListQuery = Annotated[ListParams, Depends(_list_params)]


def link_header(url: URL, param: str, cursors: dict[str, str | None]) -> str | None:
    """RFC 8288 links to the pages around this one: `url` with `param` set to each cursor."""
    links = [
        f'<{url.include_query_params(**{param: cursor})}>; rel="{rel}"'
        for rel, cursor in cursors.items()
        if cursor is not None
    ]
    return ", ".join(links) or None


def set_links(
    response: Response | None,
    url: URL | None,
    next_cursor: str | None,
    prev_cursor: str | None = None,
    *,
    param: str = "cursor",
) -> None:
    if response is None or url is None:
        return
    header = link_header(url, param, {"next": next_cursor, "prev": prev_cursor})
    if header:
        response.headers["Link"] = header


def set_page_links(response: Response, url: URL, page: int, *, has_next: bool) -> None:
    """`Link` headers of a view numbered in pages (the oversight lists: `page`, `per_page`)."""
    set_links(
        response, url, str(page + 1) if has_next else None, str(page - 1) if page > 1 else None, param="page"
    )


def page_of(params: PageRequest, page: Slice[Any], convert: Callable[[Any], Any] | None = None) -> Page[Any]:
    """The envelope of one page (its rows turned into items by `convert`), its `Link` header set."""
    items = [convert(row) for row in page.rows] if convert else list(page.rows)
    set_links(params.response, params.url, page.next_cursor, page.prev_cursor)
    return Page(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor, total=page.total)


def whole_list(params: ListParams, items: Sequence[Any]) -> Page[Any]:
    """The envelope of a list that fits on one page: no cursors, `total` only when asked."""
    return Page(items=list(items), total=len(items) if params.count else None)
