"""Sorting and cursor pagination shared by every list (the HTTP side, the envelope and the
`Link` headers, is api/pagination.py).

`sort=field` / `sort=-field` picks a column from a per-resource whitelist; the page is cut with a
keyset condition on (sort value, tie-breaker), so pages neither repeat nor skip rows when other rows
are inserted meanwhile. The cursor is opaque base64 JSON that also names the sort it belongs to and
the direction it reads in: a `next` cursor points after the last row of a page, a `prev` cursor
before its first row (the page before is read in reverse order, then turned round).
NULL sort values come last in both directions, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, nulls_first, nulls_last, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator

from core.errors import DomainError

T = TypeVar("T")
R = TypeVar("R")
MAX_LIMIT = 200
MAX_INTEGER = 2**63 - 1
"""The largest id any backend stores (BIGINT); ids and cursors beyond it are forged."""


class InvalidSort(DomainError):
    status, code = 422, "invalid_sort"


class InvalidCursor(DomainError):
    status, code = 400, "invalid_cursor"


@dataclass(frozen=True)
class PageParams:
    """One page asked for: the sort, the cursor (after or before a row), its size, and whether to
    count the rows of all pages (`total`)."""

    sort: str | None
    cursor: str | None
    limit: int
    count: bool = False


@dataclass
class Slice(Generic[R]):
    """One page of rows as `paginate` cut it, before the route turns the rows into items."""

    rows: list[R]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    total: int | None = None

    def map(self, convert: Callable[[R], T]) -> Slice[T]:
        return Slice([convert(row) for row in self.rows], self.next_cursor, self.prev_cursor, self.total)


class Sorting:
    """The sortable fields of one resource, its default sort and the unique tie-breaker column."""

    def __init__(
        self,
        fields: dict[str, InstrumentedAttribute[Any]],
        *,
        default: str,
        tiebreak: InstrumentedAttribute[Any],
    ) -> None:
        self.fields = fields
        self.default = default
        self.tiebreak = tiebreak

    def resolve(self, sort: str | None) -> tuple[str, bool]:
        spec = (sort or self.default).strip()
        descending = spec.startswith("-")
        name = spec.lstrip("-+")
        if name not in self.fields:
            allowed = sorted(self.fields)
            raise InvalidSort(
                f"cannot sort by {name!r}; allowed fields: {', '.join(allowed)} "
                "(prefix with '-' for descending)",
                allowed=allowed,
            )
        return name, descending

    @classmethod
    def of(
        cls, model: Any, *names: str, default: str, tiebreak: InstrumentedAttribute[Any] | None = None
    ) -> Sorting:
        """The whitelist of `model`'s columns `names`, ties broken by `tiebreak` (default: its id)."""
        fields = {name: getattr(model, name) for name in names}
        return cls(fields, default=default, tiebreak=tiebreak if tiebreak is not None else model.id)


def _to_json(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _from_json(column: InstrumentedAttribute[Any], raw: Any) -> Any:
    if raw is None:
        return None
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):  # e.g. UTCDateTime: its own python_type is `object`
        sql_type = sql_type.impl_instance
    python_type = sql_type.python_type
    if python_type is datetime:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)  # OverflowError for a forged date at the edge of the calendar
    if python_type is date:
        return date.fromisoformat(raw)
    if python_type is bool or not isinstance(raw, str | int):
        raise ValueError("unexpected value type")
    if isinstance(raw, int) and not -MAX_INTEGER <= raw <= MAX_INTEGER:
        raise ValueError("integer out of range")
    return python_type(raw)


def encode_cursor(sort: str, value: Any, tiebreak: Any, *, before: bool = False) -> str:
    """A cursor after (value, tiebreak), or with `before` one before it (a `prev_cursor`)."""
    fields = {"s": sort, "v": _to_json(value), "t": _to_json(tiebreak)}
    if before:
        fields["d"] = "prev"
    payload = json.dumps(fields)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, sort: str, sorting: Sorting, column: InstrumentedAttribute[Any]
) -> tuple[Any, Any, bool]:
    """The (sort value, tie-breaker) a cursor points after (or, when the last item is True, before);
    400 for anything that is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(payload, dict) or payload.get("t") is None:
            raise ValueError("not a cursor")
        if payload.get("s") != sort:
            raise InvalidCursor(
                f"the cursor belongs to sort={payload.get('s')!r}, not sort={sort!r}; "
                "start again without a cursor"
            )
        direction = payload.get("d", "next")
        if direction not in ("next", "prev"):
            raise ValueError("unknown direction")
        value = _from_json(column, payload.get("v"))
        return value, _from_json(sorting.tiebreak, payload["t"]), direction == "prev"
    except (ValueError, TypeError, OverflowError, UnicodeError, binascii.Error, KeyError) as exc:
        raise InvalidCursor(
            "the cursor is malformed; pass back next_cursor or prev_cursor exactly as a page returned it"
        ) from exc


def _after(column: Any, tiebreak: Any, value: Any, last: Any, descending: bool) -> Any:
    """Rows strictly after (value, last) in the order `column NULLS LAST, tiebreak`."""
    tiebreak_after = tiebreak < last if descending else tiebreak > last
    if value is None:
        return and_(column.is_(None), tiebreak_after)
    column_after = column < value if descending else column > value
    return or_(column_after, and_(column == value, tiebreak_after), column.is_(None))


def _before(column: Any, tiebreak: Any, value: Any, first: Any, descending: bool) -> Any:
    """Rows strictly before (value, first) in the order `column NULLS LAST, tiebreak`."""
    tiebreak_before = tiebreak > first if descending else tiebreak < first
    if value is None:
        return or_(column.is_not(None), and_(column.is_(None), tiebreak_before))
    column_before = column > value if descending else column < value
    return and_(column.is_not(None), or_(column_before, and_(column == value, tiebreak_before)))


async def count_rows(session: AsyncSession, statement: Select[Any]) -> int:
    """How many rows `statement` selects (the `total` of a list asked with `?count=true`)."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    sorting: Sorting,
    params: PageParams,
    *,
    scalars: bool = True,
) -> Slice[Any]:
    """One page of the rows `statement` selects, with the cursors of the pages after and before it
    (None where there is none) and, if `params.count`, the number of rows on all pages. With
    `scalars=False` the rows are result rows (a select of columns naming the sort columns), not
    the first column's objects.

    A page read forward knows whether a page follows (it reads one row more); a page reached with a
    cursor has a page before it. Read with a `prev` cursor, it is the other way round."""
    name, descending = sorting.resolve(params.sort)
    column = sorting.fields[name]
    sort = f"-{name}" if descending else name
    total = await count_rows(session, statement) if params.count else None
    backward = False
    if params.cursor:
        value, edge, backward = decode_cursor(params.cursor, sort, sorting, column)
        where = _before if backward else _after
        statement = statement.where(where(column, sorting.tiebreak, value, edge, descending))
    if descending != backward:
        order = (column.desc(), sorting.tiebreak.desc())
    else:
        order = (column.asc(), sorting.tiebreak.asc())
    nulls = nulls_first if backward else nulls_last
    statement = statement.order_by(nulls(order[0]), order[1]).limit(params.limit + 1)
    if scalars:
        rows = list((await session.scalars(statement)).unique().all())
    else:
        rows = list((await session.execute(statement)).all())
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    if backward:
        rows.reverse()

    def cursor(row: Any, *, before: bool) -> str:
        return encode_cursor(
            sort, getattr(row, column.key), getattr(row, sorting.tiebreak.key), before=before
        )

    if not rows:
        return Slice(rows, None, None, total)
    has_next = more if not backward else True
    has_prev = more if backward else params.cursor is not None
    return Slice(
        rows,
        cursor(rows[-1], before=False) if has_next else None,
        cursor(rows[0], before=True) if has_prev else None,
        total,
    )
