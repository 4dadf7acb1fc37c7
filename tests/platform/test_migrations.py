"""Every migration upgrades and downgrades cleanly, and the models match the head revision."""

from __future__ import annotations

import asyncio
from datetime import date

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from models import Activity, Base
from models.counts import key_drift
from models.db import create_engine, session_factory
from models.rollups import rollup_drift
from tests.conftest import alembic_config, empty_all_tables
from tests.oversight.test_log_rollups import build_history, non_zero, rows


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


def test_the_convention_rollups_migrate_with_their_data(database_url: str) -> None:
    """0012 fills the rollups' rows per set of conventions and the stage arrivals from the log; its
    downgrade drops the arrivals and keeps the "*" rows, which are 0011's rows (a history with
    moves, edits, replays and deletions)."""
    config = alembic_config(database_url)

    async def with_history() -> set[tuple[object, ...]]:
        engine = create_engine(database_url)
        await empty_all_tables(engine)
        await build_history(session_factory(engine), seed=4)
        async with session_factory(engine)() as session:
            found = await rows(session)
        await engine.dispose()
        return found

    async def read(*statements: str) -> set[tuple[object, ...]]:
        engine = create_async_engine(database_url, poolclass=NullPool)
        async with engine.connect() as connection:
            found = {
                tuple(date.fromisoformat(v) if isinstance(v, str) and v[4:5] == "-" else v for v in row)
                for statement in statements
                for row in await connection.execute(text(statement))
            }
        await engine.dispose()
        return found

    async def kept_and_drift() -> tuple[set[tuple[object, ...]], list[object]]:
        engine = create_engine(database_url)
        async with session_factory(engine)() as session:
            found, drift = await rows(session), await rollup_drift(session)
        await engine.dispose()
        return found, list(drift)

    kept = asyncio.run(with_history())
    assert {row[1] for row in kept} > {"*"}  # rows per set of conventions too
    command.downgrade(config, "0011_log_rollups")
    try:
        old = asyncio.run(
            read(
                "SELECT 'flow', day, stage, entered, exited, started FROM stage_day_counts",
                "SELECT 'stay', width, starts_on, stage, days, count, seconds FROM stage_stays",
                "SELECT 'provision', provision_id, stage, count FROM provision_stage_counts",
            )
        )
    finally:
        command.upgrade(config, "head")
    everyone = {(row[0], *row[2:]) for row in kept if row[1] == "*" and row[0] != "arrival"}
    assert old == everyone
    after, drift = asyncio.run(kept_and_drift())
    assert drift == []
    assert non_zero(after) == non_zero(kept)


def test_the_activity_conventions_key_migrates_with_its_data(database_url: str) -> None:
    """0014 fills each activity's conventions key from its links (the key the ORM wrote), and its
    downgrade drops the column and its index."""
    config = alembic_config(database_url)

    async def with_history() -> dict[int, str]:
        engine = create_engine(database_url)
        await empty_all_tables(engine)
        await build_history(session_factory(engine), seed=5)
        async with session_factory(engine)() as session:
            found = {
                id_: key for id_, key in await session.execute(select(Activity.id, Activity.conventions_key))
            }
        await engine.dispose()
        return found

    async def activity_columns() -> tuple[set[str], set[str]]:
        engine = create_async_engine(database_url, poolclass=NullPool)
        async with engine.connect() as connection:
            columns, indexes = await connection.run_sync(
                lambda c: (
                    {column["name"] for column in inspect(c).get_columns("activities")},
                    {str(index["name"]) for index in inspect(c).get_indexes("activities")},
                )
            )
        await engine.dispose()
        return columns, indexes

    async def kept_and_drift() -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
        engine = create_engine(database_url)
        async with session_factory(engine)() as session:
            found = {
                id_: key for id_, key in await session.execute(select(Activity.id, Activity.conventions_key))
            }
            drift = await key_drift(session)
        await engine.dispose()
        return found, drift

    kept = asyncio.run(with_history())
    assert len(set(kept.values())) > 2  # several sets of conventions
    command.downgrade(config, "0013_histogram_indexes")
    try:
        columns, indexes = asyncio.run(activity_columns())
    finally:
        command.upgrade(config, "head")
    assert "conventions_key" not in columns and "ix_activities_conventions_stage_due" not in indexes
    assert "stage_due_on" in columns
    after, drift = asyncio.run(kept_and_drift())
    assert drift == {}
    assert after == kept
