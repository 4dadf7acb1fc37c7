"""Fixtures of the notification tests: the notification activities on this test's settings and
database, the people and activity an event concerns (`world`), and a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from tests.conftest import People
from tests.notifications.world import World, build_world
from tests.servers_support import WebhookReceiver
from workflows.notifications import NotificationActivities


@pytest.fixture
async def acts(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[NotificationActivities]:
    """The activities as the worker builds them; they read `settings` when they run, so a test may
    change a setting after asking for them."""
    async with httpx.AsyncClient(trust_env=False) as http:
        yield NotificationActivities(settings, db, http)


@pytest.fixture
def extra_people() -> dict[str, dict[str, Any]]:
    """Persons `world` adds beside one per role: name -> Person fields. A module that needs more
    (digest readers, subscribers) overrides this fixture."""
    return {}


@pytest.fixture
async def world(
    db: async_sessionmaker[AsyncSession], people: People, extra_people: dict[str, dict[str, Any]]
) -> World:
    return await build_world(db, people, extra_people)


@pytest.fixture
def receiver(settings: Settings) -> Iterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1, which `settings` admit as a target (a loopback address is
    refused otherwise)."""
    settings.webhook_allow_loopback_targets = True
    server = WebhookReceiver().start()
    yield server
    server.stop()
