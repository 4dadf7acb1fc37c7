"""Generic record helpers every entity's queries use: load-or-404, reference checks that name the
field, uniqueness checks, partial updates with If-Match, and deletes that explain a conflict;
`Records` puts them together in the one order every reference-data service follows.

They only `flush()`: the request session commits (api.deps.get_session). Flushing here makes
constraint and version failures surface inside the handler, as problem details.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.interfaces import ORMOption

from core.errors import Conflict, DomainError, NotFound
from core.versions import check_if_match

M = TypeVar("M")


class InvalidInput(DomainError):
    """Well-formed input that does not make sense, e.g. an unknown foreign id; names the field."""

    status, code = 422, "invalid_input"


async def get_or_404(
    session: AsyncSession,
    model: type[M],
    key: Any,
    *,
    label: str,
    options: Sequence[ORMOption] = (),
) -> M:
    row = await session.get(model, key, options=options)
    if row is None:
        raise NotFound(f"{label} {key} does not exist")
    return row


async def require_reference(
    session: AsyncSession, model: type[Any], key: Any, *, field: str, label: str
) -> None:
    """422 naming `field` when it points at a row that does not exist."""
    if key is not None and await session.get(model, key) is None:
        raise InvalidInput(f"{field}: {label} {key} does not exist", field=field)


async def load_by_keys(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    keys: Iterable[Any],
    *,
    field: str,
    label: str,
) -> list[Any]:
    """The rows whose `column` is in `keys` (in the order given); 422 listing the unknown ones."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    entity = column.class_
    rows = (await session.scalars(select(entity).where(column.in_(wanted)))).all()
    found = {getattr(row, column.key): row for row in rows}
    missing = [key for key in wanted if key not in found]
    if missing:
        raise InvalidInput(
            f"{field}: unknown {label} {', '.join(map(str, missing))}", field=field, unknown=missing
        )
    return [found[key] for key in wanted]


async def ensure_unique(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    value: Any,
    *,
    label: str,
    exclude_id: int | None = None,
) -> None:
    """409 naming the duplicate before the database would refuse it less helpfully."""
    statement = select(column.class_).where(column == value)
    if exclude_id is not None:
        statement = statement.where(column.class_.id != exclude_id)
    if await session.scalar(statement.limit(1)) is not None:
        raise Conflict(
            f"a {label} with {column.key} {value!r} already exists",
            code="duplicate",
            field=column.key,
        )


def ensure_period(starts_on: date | None, ends_on: date | None) -> None:
    """Dates in order; run after a PATCH merged into the record, so half-updates are checked too."""
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise InvalidInput(f"ends_on ({ends_on}) is before starts_on ({starts_on})", field="ends_on")


def apply_changes(row: Any, changes: dict[str, Any]) -> None:
    """Copy a PATCH's given fields onto the row; the flush checks the version (412 on a race)."""
    for name, value in changes.items():
        setattr(row, name, value)


async def add_and_flush(session: AsyncSession, row: M) -> M:
    session.add(row)
    await session.flush()
    return row


async def delete_row(session: AsyncSession, row: Any, if_match: str | None, *, label: str) -> None:
    """Delete after the If-Match check; 409 when other records still point at it."""
    check_if_match(if_match, row.version)
    row_id = row.id  # the row cannot be read once the failed flush has spoiled the transaction
    await session.delete(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"{label} {row_id} is still referenced by other records; detach or delete those first",
            code="still_referenced",
        ) from exc


def contains_text(q: str, *columns: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """A list's `q` filter: the text in any of `columns`, any case, `%` and `_` taken literally."""
    return or_(*(column.icontains(q, autoescape=True) for column in columns))


Prepare = Callable[[AsyncSession, dict[str, Any], Any], Awaitable[None]]
"""Checks a create's values or a PATCH's changes (in place: references checked, keys turned into
rows) before they reach the record; the third argument is the record, None for a new one."""


@dataclass(frozen=True)
class Records(Generic[M]):
    """One kind of record and its rules: read (404 naming `label`), create, change and delete. A
    create or a change takes its steps in the same order for every kind: If-Match (changes only,
    412), the natural key `unique` (409), `prepare` (references, 422), the values onto the row,
    `check` on the merged record (e.g. dates in order, 422), flush."""

    model: type[M]
    label: str
    unique: InstrumentedAttribute[Any] | None = None
    options: Sequence[ORMOption] = ()
    prepare: Prepare | None = None
    check: Callable[[M], None] | None = None

    async def get(self, session: AsyncSession, key: Any) -> M:
        return await get_or_404(session, self.model, key, label=self.label, options=self.options)

    async def create(self, session: AsyncSession, values: dict[str, Any]) -> M:
        values = dict(values)
        if self.unique is not None:
            await ensure_unique(session, self.unique, values[self.unique.key], label=self.label)
        if self.prepare is not None:
            await self.prepare(session, values, None)
        row = self.model(**values)
        if self.check is not None:
            self.check(row)
        return await add_and_flush(session, row)

    async def update(self, session: AsyncSession, row: M, changes: dict[str, Any], if_match: str | None) -> M:
        check_if_match(if_match, row.version)  # type: ignore[attr-defined]
        changes = dict(changes)
        if self.unique is not None and self.unique.key in changes:
            key = changes[self.unique.key]
            await ensure_unique(session, self.unique, key, label=self.label, exclude_id=row.id)  # type: ignore[attr-defined]
        if self.prepare is not None:
            await self.prepare(session, changes, row)
        apply_changes(row, changes)
        if self.check is not None:
            self.check(row)
        await session.flush()
        return row

    async def delete(
        self, session: AsyncSession, row: M, if_match: str | None, *, label: str | None = None
    ) -> None:
        await delete_row(session, row, if_match, label=label or self.label)


def check_period(row: Any) -> None:
    """`Records.check` for records with a period (starts_on, ends_on)."""
    ensure_period(row.starts_on, row.ends_on)
