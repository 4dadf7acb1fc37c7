"""The bench worker process: the service's own worker (`build_worker`, settings from the environment;
BENCH_WORKER_PART=workflows|notifications for one part) plus, on `<task queue>-bare`, the reference
workflow (`bench.bare`: no-op Update, the move's local write, a regular activity's write).
Stopped with SIGTERM (the supervisor) or SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
from temporalio.worker import Worker

from bench.bare import TASK_QUEUE_SUFFIX, BareActivities, BareWorkflow
from core.settings import get_settings
from models.db import create_engine, session_factory
from workflows.activities import LifecycleActivities
from workflows.client import connect
from workflows.observability import worker_interceptors
from workflows.worker import WorkerPart, build_worker, lower_priority


async def main() -> None:
    settings = get_settings()
    part = os.environ.get("BENCH_WORKER_PART")  # one part per process, as `synergies up` runs them
    parts = (WorkerPart(part),) if part else tuple(WorkerPart)
    lower_priority(settings, parts)  # before the Temporal runtime's threads start, as `synergies worker`
    engine = create_engine(settings.database_url)
    sessionmaker = session_factory(engine)
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as http:
        cached = os.environ.get("BENCH_MAX_CACHED_WORKFLOWS")
        if cached:  # the memory bench: the workflows alone, with another workflow cache bound
            parts = (WorkerPart.WORKFLOWS,)
        service = build_worker(
            client, settings, sessionmaker, http, parts=parts, max_cached_workflows=int(cached or 1000)
        )
        bare = Worker(
            client,
            task_queue=settings.temporal_task_queue + TASK_QUEUE_SUFFIX,
            workflows=[BareWorkflow],
            # the move's own write path for the `record` reference, with the service worker's options
            activities=[
                BareActivities(sessionmaker).write_row,
                LifecycleActivities(sessionmaker).record_transition,
            ],
            interceptors=worker_interceptors(),
            max_concurrent_activities=50,
        )
        async with service, bare:
            print("worker ready", flush=True)
            await stop.wait()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
