"""The `synergies` CLI against real databases: a migrated SQLite file, then both test backends."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from cli.main import app
from core.settings import get_settings
from models import Activity, Meeting, Person
from models.db import create_engine, session_factory
from services.tokens import person_for_token
from tests.conftest import alembic_config

runner = CliRunner()


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point the CLI's settings at a database URL; the cached settings are rebuilt around it."""

    def point_at(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


async def _authenticates(url: str, token: str) -> str | None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            person = await person_for_token(session, token)
            return person.email if person else None
    finally:
        await engine.dispose()


def test_cli_on_a_migrated_sqlite_file(tmp_path: Path, use_database) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    command.upgrade(alembic_config(url), "head")
    use_database(url)

    seeded = invoke("seed")
    assert seeded.exit_code == 0
    assert "26 provisions" in seeded.stdout and "58 created" in seeded.stdout
    assert "0 created, 0 updated" in invoke("seed").stdout

    loaded = invoke("demo", "load")
    assert loaded.exit_code == 0
    assert "29 activities created" in loaded.stdout
    again = invoke("demo", "load")
    assert "0 activities created, 29 already present" in again.stdout
    assert invoke("demo", "load", "--historical").exit_code == 2, "no shift, so no option to undo it"
    with sqlite3.connect(tmp_path / "cli.db") as shifted:  # as an earlier version left var/
        shifted.execute("UPDATE activities SET created_at = '2026-08-06 09:01:00' WHERE id <= 2")
    hinted = invoke("demo", "load")
    assert hinted.exit_code == 0 and "2 demo activities were loaded at shifted dates" in hinted.stderr

    created = invoke(
        "person",
        "create",
        "--name",
        "Ada Reporter",
        "--email",
        "ada@example.org",
        "--role",
        "coordinator",
    )
    assert created.exit_code == 0, created.output
    issued = invoke("token", "create", "--email", "ada@example.org", "--name", "laptop")
    assert issued.exit_code == 0
    token = issued.stdout.strip()
    assert token.startswith("syn_") and "shown only now" in issued.stderr
    assert asyncio.run(_authenticates(url, token)) == "ada@example.org"

    listed = invoke("token", "list", "--email", "ada@example.org")
    token_id = listed.stdout.split("\t", 1)[0]
    assert "laptop" in listed.stdout and token not in listed.stdout
    assert "last used" in listed.stdout and "active" in listed.stdout

    assert invoke("token", "revoke", token_id).exit_code == 0
    assert asyncio.run(_authenticates(url, token)) is None
    assert "revoked" in invoke("token", "list", "--email", "ada@example.org").stdout
    twice = invoke("token", "revoke", token_id)
    assert twice.exit_code == 1 and "already revoked" in twice.stderr


def test_cli_refuses_bad_input_with_one_clear_line(tmp_path: Path, use_database) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    command.upgrade(alembic_config(url), "head")
    use_database(url)
    args = ["person", "create", "--name", "Ada", "--role", "admin", "--email"]

    malformed = invoke(*args, "not-an-email")
    assert malformed.exit_code == 1
    assert malformed.stderr.strip() == "error: 'not-an-email' is not a valid email address"
    assert invoke(*args, "ada@example.org").exit_code == 0
    duplicate = invoke(*args, "ADA@example.org")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.stderr
    unknown = invoke("token", "create", "--email", "nobody@example.org")
    assert unknown.exit_code == 1 and "no person with email nobody@example.org" in unknown.stderr
    assert (
        invoke("person", "create", "--name", "X", "--email", "x@example.org", "--role", "boss").exit_code == 2
    )


async def test_cli_token_authenticates_on_every_backend(
    db: async_sessionmaker[AsyncSession], database_url: str, use_database
) -> None:
    use_database(database_url)

    async def run(*args: str) -> Result:  # the CLI runs its own event loop: give it a thread
        return await asyncio.to_thread(invoke, *args)

    assert (await run("demo", "load")).exit_code == 0
    issued = await run("token", "create", "--email", "demo.admin@brs.example.org")
    assert issued.exit_code == 0
    async with db() as session, session.begin():
        person = await person_for_token(session, issued.stdout.strip())
        excops = await session.scalar(select(Meeting).where(Meeting.code == "EXCOPS-1"))
        activities = len((await session.scalars(select(Activity))).all())
    assert isinstance(person, Person) and person.name == "Demo Admin"
    assert excops is not None and excops.ends_on == date(2010, 2, 24), "the real date, in every mode"
    assert activities == 29
