"""Sorting and cursor pagination shared by every list (the HTTP side is api/pagination.py).

`sort=field` / `sort=-field` picks a column from a per-resource whitelist; the page is cut with a
keyset condition on (sort value, tie-breaker), so pages neither repeat nor skip rows when other rows
are inserted meanwhile. The cursor is opaque base64 JSON that also names the sort it belongs to.
NULL sort values come last in both directions, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Select, and_, nulls_last, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator

from core.errors import DomainError

MAX_LIMIT = 200
MAX_INTEGER = 2**63 - 1
"""The largest id any backend stores (BIGINT); ids and cursors beyond it are forged."""


class InvalidSort(DomainError):
    status, code = 422, "invalid_sort"


class InvalidCursor(DomainError):
    status, code = 400, "invalid_cursor"


@dataclass(frozen=True)
class PageParams:
    sort: str | None
    cursor: str | None
    limit: int


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


def encode_cursor(sort: str, value: Any, tiebreak: Any) -> str:
    payload = json.dumps({"s": sort, "v": _to_json(value), "t": _to_json(tiebreak)})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, sort: str, sorting: Sorting, column: InstrumentedAttribute[Any]
) -> tuple[Any, Any]:
    """The (sort value, tie-breaker) a cursor points after; 400 for anything that is not ours."""
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
        return _from_json(column, payload.get("v")), _from_json(sorting.tiebreak, payload["t"])
    except (ValueError, TypeError, OverflowError, UnicodeError, binascii.Error, KeyError) as exc:
        raise InvalidCursor(
            "the cursor is malformed; pass back next_cursor exactly as a previous page returned it"
        ) from exc


def _after(column: Any, tiebreak: Any, value: Any, last: Any, descending: bool) -> Any:
    """Rows strictly after (value, last) in the order `column NULLS LAST, tiebreak`."""
    tiebreak_after = tiebreak < last if descending else tiebreak > last
    if value is None:
        return and_(column.is_(None), tiebreak_after)
    column_after = column < value if descending else column > value
    return or_(column_after, and_(column == value, tiebreak_after), column.is_(None))


async def paginate(
    session: AsyncSession, statement: Select[Any], sorting: Sorting, params: PageParams
) -> tuple[list[Any], str | None]:
    """One page of the rows `statement` selects, and the cursor of the next page (or None)."""
    name, descending = sorting.resolve(params.sort)
    column = sorting.fields[name]
    sort = f"-{name}" if descending else name
    if params.cursor:
        value, last = decode_cursor(params.cursor, sort, sorting, column)
        statement = statement.where(_after(column, sorting.tiebreak, value, last, descending))
    direction = (
        (column.desc(), sorting.tiebreak.desc()) if descending else (column.asc(), sorting.tiebreak.asc())
    )
    statement = statement.order_by(nulls_last(direction[0]), direction[1]).limit(params.limit + 1)
    rows = list((await session.scalars(statement)).unique().all())
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last_row = rows[-1]
    return rows, encode_cursor(sort, getattr(last_row, column.key), getattr(last_row, sorting.tiebreak.key))
