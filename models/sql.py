"""Portable SQL helpers (the SQLite and PostgreSQL dialects spell upserts the same way)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def upsert_insert(dialect: str) -> Any:
    """The dialect's `insert`, which has `on_conflict_do_nothing` / `on_conflict_do_update`."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@functools.cache
def additive_upsert(dialect: str, table: Table, key_names: tuple[str, ...], fields: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE SET field = field + excluded.field, for counters kept by
    concurrent writers (no increment lost). Built once per table and dialect and executed with its
    rows as parameters, so SQLAlchemy compiles it once (rows inlined with `.values([...])` make a
    statement it cannot cache: compiled again on every write)."""
    statement = upsert_insert(dialect)(table)
    return statement.on_conflict_do_update(
        index_elements=list(key_names),
        set_={name: table.c[name] + statement.excluded[name] for name in fields},
    )


def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any], *keys: str) -> Insert:
    """INSERT … ON CONFLICT (keys) DO NOTHING, for idempotent writes keyed by a natural key."""
    insert = upsert_insert(session.get_bind().dialect.name)
    return insert(model).values(**values).on_conflict_do_nothing(index_elements=list(keys))  # type: ignore[no-any-return]


async def insert_new_rows(
    session: AsyncSession, model: Any, rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """INSERT … ON CONFLICT DO NOTHING for many rows at once (idempotent writes keyed by a unique
    key); returns the `returning` columns (default: the id) of the rows actually inserted. One
    statement, compiled once per shape: the rows go as parameters ("insertmanyvalues" batches
    them into one multi-row INSERT), not into the statement."""
    if not rows:
        return []
    statement = upsert_insert(session.get_bind().dialect.name)(model.__table__).on_conflict_do_nothing()
    statement = statement.returning(*(returning or (model.id,)))
    return list((await session.execute(statement, rows)).all())
