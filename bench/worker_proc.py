"""The bench worker process: the service's own worker (`build_worker`, settings from the environment;
BENCH_WORKER_PART=workflows|notifications for one part) plus, on `<task queue>-bare`, the bare
reference workflow. Stopped with SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from typing import Any

import httpx
from temporalio.worker import Worker

from api.settings import get_settings
from bench.bare import TASK_QUEUE_SUFFIX, BareActivities, BareWorkflow
from models.db import create_engine, session_factory
from workflows.client import connect
from workflows.worker import WorkerPart, build_worker


def _worker_with_cache(client: Any, settings: Any, sessionmaker: Any, http: Any, cached: int) -> Worker:
    """The workflows part of `workflows.worker.build_worker` with `max_cached_workflows` set (it
    does not take one)."""
    from workflows.activities import LifecycleActivities
    from workflows.notifications import NotificationActivities
    from workflows.observability import worker_interceptors
    from workflows.worker import WORKFLOWS

    return Worker(
        client, task_queue=settings.temporal_task_queue, workflows=WORKFLOWS,
        activities=[*LifecycleActivities(sessionmaker).all(),
                    *NotificationActivities(settings, sessionmaker, http).all()],
        interceptors=worker_interceptors(), max_concurrent_activities=50,
        graceful_shutdown_timeout=timedelta(seconds=10), max_cached_workflows=cached,
    )


async def main() -> None:
    settings = get_settings()
    engine = create_engine(settings.database_url)
    sessionmaker = session_factory(engine)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as http:
        cached = os.environ.get("BENCH_MAX_CACHED_WORKFLOWS")
        part = os.environ.get("BENCH_WORKER_PART")  # one part per process, as `synergies up` runs them
        if cached:  # the workflows with another workflow cache bound (memory bench)
            service: Any = _worker_with_cache(client, settings, sessionmaker, http, int(cached))
        else:
            parts = (WorkerPart(part),) if part else tuple(WorkerPart)
            service = build_worker(client, settings, sessionmaker, http, parts=parts)
        bare = Worker(client, task_queue=settings.temporal_task_queue + TASK_QUEUE_SUFFIX,
                      workflows=[BareWorkflow], activities=[BareActivities(sessionmaker).write_row],
                      max_concurrent_activities=50)
        async with service, bare:
            print("worker ready", flush=True)
            await stop.wait()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
