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
