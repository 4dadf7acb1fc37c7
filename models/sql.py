"""Portable SQL helpers (the SQLite and PostgreSQL dialects spell upserts the same way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def upsert_insert(dialect: str) -> Any:
    """The dialect's `insert`, which has `on_conflict_do_nothing` / `on_conflict_do_update`."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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
