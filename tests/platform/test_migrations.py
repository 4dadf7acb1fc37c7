"""Every migration upgrades and downgrades cleanly, and the models match the head revision."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from models import Base
from tests.conftest import alembic_config


def _schema_state(url: str) -> tuple[set[str], list[object]]:
    async def read() -> tuple[set[str], list[object]]:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        await engine.dispose()
        return tables, diff

    return asyncio.run(read())


def test_upgrade_downgrade_upgrade_round_trip(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    tables, _ = _schema_state(database_url)
    assert tables <= {"alembic_version"}
    command.upgrade(config, "head")
    tables, diff = _schema_state(database_url)
    assert set(Base.metadata.tables) <= tables
    assert diff == [], f"models and migrations differ: {diff}"
