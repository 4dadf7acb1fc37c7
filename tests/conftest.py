"""Shared fixtures: every DB test runs on SQLite and on PostgreSQL, against real Temporal servers.

- `database_url` is parametrized over both backends (session scope, migrated to head); each
  PostgreSQL session gets its own database so parallel runs do not collide.
- Each test starts from empty tables (`db` fixture); `reference_data` loads the seed reference data.
- `temporal_env` is a dev server (real time); `time_env` the time-skipping test server. Both come
  from PyPI packages next to the interpreter: nothing is downloaded.
- No test touches a developer's own Temporal server: the default address is replaced by a closed
  port for everything the tests build or start, and a test that dials the default fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models import Base, Person, Role
from models.db import create_engine, session_factory
from workflows.client import DATA_CONVERTER

# aiosmtpd logs every SMTP session at INFO from its own thread, past pytest's capture.
logging.getLogger("mail.log").setLevel(logging.WARNING)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEMPORAL_TEST_SERVER = BIN / "temporal-test-server"
# The role and database that scripts/test-services creates (same default there); the role needs
# CREATEDB only: each session creates and drops its own database.
POSTGRES_ADMIN_URL = os.environ.get(
    "SYNERGIES_TEST_POSTGRES",
    "postgresql+asyncpg://synergies_test:synergies_test@127.0.0.1:5432/synergies_test",
)
BACKENDS = os.environ.get("SYNERGIES_TEST_BACKENDS", "sqlite,postgresql").split(",")
# One of two pytest processes run at once (.ci/pytest-shards, `make test`): "sqlite" keeps the
# tests on SQLite and those without a database, "postgresql" the tests on PostgreSQL, including
# the ones parametrized explicitly. Unset: every test.
SHARD = os.environ.get("SYNERGIES_TEST_SHARD", "")
SHARDS = ("sqlite", "postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not SHARD:
        return
    if SHARD not in SHARDS:
        raise pytest.UsageError(f"SYNERGIES_TEST_SHARD={SHARD!r}: one of {', '.join(SHARDS)}")
    kept, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url", SHARDS[0]) if callspec else SHARDS[0]
        (kept if backend == SHARD else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    return config


async def _admin_execute(statement: str) -> None:
    import asyncpg

    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    backend = request.param
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        command.upgrade(alembic_config(url), "head")
        yield url
        return
    name = f"synergies_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


# The sequences of the tables' serial and identity columns, back to their start (what TRUNCATE ...
# RESTART IDENTITY does).
_RESTART_SEQUENCES = text(
    """
    SELECT setval(seq.oid, pg_sequence.seqstart, false)
    FROM pg_class seq
    JOIN pg_sequence ON pg_sequence.seqrelid = seq.oid
    JOIN pg_depend dep ON dep.objid = seq.oid AND dep.deptype IN ('a', 'i')
    JOIN pg_class tab ON tab.oid = dep.refobjid
    WHERE seq.relkind = 'S' AND tab.relname = ANY(:tables)
    """
)


async def empty_all_tables(engine: AsyncEngine) -> None:
    """Every table emptied, dependents first, and PostgreSQL's id sequences restarted. DELETE, not
    TRUNCATE: on the few rows a test leaves, TRUNCATE's new files for ~40 tables and their indexes
    cost ~0.6-1 s per test on PostgreSQL, DELETE ~0.05 s."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        for table in tables:
            await connection.execute(text(f"DELETE FROM {table}"))
        if connection.dialect.name == "postgresql":
            await connection.execute(_RESTART_SEQUENCES, {"tables": tables})


@pytest.fixture
async def db(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Empty tables at the start of the test; yields the session factory."""
    await empty_all_tables(engine)
    yield sessionmaker


@pytest.fixture
async def reference_data(db: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    from services.seed import load_reference_data

    async with db() as session, session.begin():
        await load_reference_data(session)
    return db


# --- Temporal -----------------------------------------------------------------------------------

DEFAULT_TEMPORAL_ADDRESS = Settings.model_fields["temporal_address"].default
# What gets no server of its own (an app without a worker, the CLI, a uvicorn subprocess) is
# pointed at a closed port: the connection fails at once, and nothing lands in a developer's server.
UNREACHABLE_TEMPORAL = "127.0.0.1:1"
os.environ["SYNERGIES_TEMPORAL_ADDRESS"] = UNREACHABLE_TEMPORAL
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0", ""}


def dials_the_default_temporal(target: str) -> bool:
    host, _, port = target.rpartition(":")
    default_port = DEFAULT_TEMPORAL_ADDRESS.rpartition(":")[2]
    return port == default_port and host.lower() in _LOOPBACK


@pytest.fixture(autouse=True)
def temporal_dials(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fails the test if anything in it dials the default Temporal address; yields what was dialled."""
    dialled: list[str] = []
    real_connect = Client.connect

    async def connect(target_host: str, *args: Any, **kwargs: Any) -> Client:
        if dials_the_default_temporal(target_host):
            dialled.append(target_host)
            raise RuntimeError(f"a test dialled the default Temporal address {target_host}")
        return await real_connect(target_host, *args, **kwargs)

    monkeypatch.setattr(Client, "connect", staticmethod(connect))
    yield dialled
    if dialled:
        pytest.fail(f"the test dialled the default Temporal address: {dialled}", pytrace=False)


SEARCH_ATTRIBUTES: list[Any] = []  # filled from workflows.search_attributes when it exists


def _search_attributes() -> list[Any]:
    try:
        from workflows.search import SEARCH_ATTRIBUTE_KEYS
    except ImportError:
        return []
    return list(SEARCH_ATTRIBUTE_KEYS)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server (real time), in memory."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        dev_server_log_level="error",
        data_converter=DATA_CONVERTER,
        search_attributes=_search_attributes(),
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: timers of months fire in fractions of a second. One per
    test (it starts in ~0.1 s): its clock only moves forward, by years when a test awaits a
    finished workflow, and tests that compare it with the real date need it near today."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEMPORAL_TEST_SERVER),
        data_converter=DATA_CONVERTER,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex}"


# --- browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium for the session's browser tests, launched when the first asks for it
    (a launch costs seconds on a loaded machine); each test opens its own context, so cookies,
    storage and downloads stay per test."""
    from playwright.async_api import async_playwright

    from tests.browser_support import launch_chromium

    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            yield browser
        finally:
            await browser.close()


# --- API ----------------------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, task_queue: str, tmp_path: Path) -> Settings:
    """Temporal: `UNREACHABLE_TEMPORAL` unless the test brings a server (`lifecycle_worker`)."""
    return Settings(
        database_url=database_url,
        temporal_task_queue=task_queue,
        data_dir=tmp_path,
        public_url="http://testserver",
        smtp_port=0,
        workflow_id_prefix=f"activity-{uuid.uuid4().hex[:8]}-",
    )


@pytest.fixture
async def app(settings: Settings, db: async_sessionmaker[AsyncSession]) -> AsyncIterator[Any]:
    from api.main import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


class People:
    """One person and token per role: `people.headers(Role.COORDINATOR)`, `people[Role.ADMIN]`."""

    def __init__(self) -> None:
        self.persons: dict[Role, Person] = {}
        self.tokens: dict[Role, str] = {}

    def __getitem__(self, role: Role) -> Person:
        return self.persons[role]

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def add(self, sessionmaker: async_sessionmaker[AsyncSession], role: Role, name: str) -> Person:
        from services.tokens import issue_token

        async with sessionmaker() as session, session.begin():
            person = Person(name=name, email=f"{name.lower().replace(' ', '.')}@example.org", role=role)
            session.add(person)
            await session.flush()
            _, token = await issue_token(session, person, name="test")
        self.persons.setdefault(role, person)
        self.tokens.setdefault(role, token)
        return person


@pytest.fixture
async def people(db: async_sessionmaker[AsyncSession]) -> People:
    registry = People()
    for role in Role:
        await registry.add(db, role, f"Test {role.value.replace('_', ' ').title()}")
    return registry


@pytest.fixture
async def lifecycle_worker(
    app: Any,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Any]:
    """A real worker on the dev server for this test's task queue; the app talks to the same server."""
    from workflows.worker import build_worker

    app.state.temporal = temporal_env.client
    async with httpx.AsyncClient() as http, build_worker(temporal_env.client, settings, db, http) as worker:
        yield worker


@pytest.fixture
def smtp(settings: Settings) -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on a free port; `settings` send to it."""
    from tests.servers_support import SMTPServer

    server = SMTPServer().start()
    settings.smtp_port = server.port
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A real SMTP server on a free port for processes the test starts (`settings` unchanged)."""
    from tests.servers_support import SMTPServer

    server = SMTPServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- the lifecycle's starting point -------------------------------------------------------------


@pytest.fixture
async def team_and_meeting(
    reference_data: async_sessionmaker[AsyncSession], people: People, smtp: Any
) -> dict[str, object]:
    """Reference data, one person per role, mail caught by `smtp`, and a task team and the SC-COP5
    meeting to move towards: {"team_id", "meeting_id", "deadline"}."""
    from tests.lifecycle_support import add_team_and_meeting

    return await add_team_and_meeting(reference_data, people)


@pytest.fixture
async def task_team(reference_data: async_sessionmaker[AsyncSession], people: People) -> int:
    """The task team of `team_and_meeting`, for tests whose processes send their own mail."""
    from tests.lifecycle_support import add_team_and_meeting

    team_id = (await add_team_and_meeting(reference_data, people))["team_id"]
    assert isinstance(team_id, int)
    return team_id
