"""The worker process: `synergies worker` or `python -m workflows.worker`."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from api.settings import Settings, get_settings
from models.db import create_engine, session_factory
from workflows.activities import LifecycleActivities
from workflows.client import connect
from workflows.lifecycle import ActivityLifecycle

logger = logging.getLogger(__name__)


def build_worker(
    client: Client,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    task_queue: str | None = None,
    extra_activities: list[object] | None = None,
) -> Worker:
    """Every workflow and activity of the service on one task queue."""
    lifecycle = LifecycleActivities(sessionmaker)
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=[ActivityLifecycle],
        activities=[*lifecycle.all(), *(extra_activities or [])],
        max_concurrent_activities=50,
    )


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    engine = create_engine(settings.database_url)
    client = await connect(settings)
    worker = build_worker(client, settings, session_factory(engine))
    logger.info("worker polling task queue %s", settings.temporal_task_queue)
    try:
        await worker.run()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(run_worker())
