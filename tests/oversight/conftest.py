"""Fixtures of the oversight tests: the two hand-computed data sets (the dashboard's, the oversight
views'), an oversight member's headers, and a real server for streams and the browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stages import Role
from tests.conftest import People
from tests.oversight.dashboard_data import DashboardData, build_dashboard_data
from tests.oversight.oversight_data import OversightData, build_oversight_data
from tests.process_support import LiveServer, live_server


@pytest.fixture
async def dashboard_data(db: async_sessionmaker[AsyncSession], people: People) -> DashboardData:
    """`tests/oversight/dashboard_data.py`, its moves made by the coordinator."""
    return await build_dashboard_data(db, actor_id=people[Role.COORDINATOR].id)


@pytest.fixture
async def oversight_data(db: async_sessionmaker[AsyncSession], people: People) -> OversightData:
    """`tests/oversight/oversight_data.py` (beside one person per role)."""
    return await build_oversight_data(db)


@pytest.fixture
def headers(people: People) -> dict[str, str]:
    """An oversight member's."""
    return people.headers(Role.OVERSIGHT)


@pytest.fixture
async def server(
    database_url: str, tmp_path: Path, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, tmp_path) as running:
        yield running
