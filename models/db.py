"""Async engine and session factory, one per database URL."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    # 20 kept: at 20 requests in flight the pool would otherwise open and close an overflow
    # connection per checkout (a PostgreSQL backend start each time).
    return create_async_engine(url, pool_size=20, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits on success and rolls back on error.

    On SQLite it is a write transaction: `BEGIN IMMEDIATE` takes the file's write lock first, so
    its reads and writes see one snapshot and never have to upgrade a read lock (which fails with
    SQLITE_BUSY or sleeps in the busy handler, in steps of up to 100 ms, not in turn); and the
    writers of one process take turns on a lock held only for the transaction (from BEGIN to
    COMMIT, nothing else awaited under it), so they queue in order instead of polling the file lock.
    """
    bind = factory.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        async with factory() as session, session.begin():
            yield session
        return
    async with _writer_turn(bind), factory() as session, session.begin():
        await session.execute(text("BEGIN IMMEDIATE"))
        yield session


_WRITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _writer_turn(engine: AsyncEngine) -> asyncio.Lock:
    """The process's queue of writers to one SQLite file (per event loop: locks bind to one)."""
    locks = _WRITERS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(str(engine.sync_engine.url), asyncio.Lock())
