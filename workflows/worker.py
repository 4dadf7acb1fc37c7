"""The worker process: `synergies worker` or `python -m workflows.worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import py_compile
import signal
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack
from datetime import timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from core.observability import configure_logging
from core.settings import Settings, get_settings
from models.db import create_engine, session_factory
from workflows.activities import LifecycleActivities
from workflows.client import connect
from workflows.digest import DigestActivities, DigestWorkflow, ensure_digest_schedule
from workflows.lifecycle import ActivityLifecycle
from workflows.notifications import NotificationActivities
from workflows.observability import worker_interceptors, worker_runtime
from workflows.relay import OutboxRelay
from workflows.reports import ReportActivities, ReportDraftWorkflow, ensure_report_workflows
from workflows.sending import notifications_task_queue

logger = logging.getLogger(__name__)

WORKFLOWS = [ActivityLifecycle, DigestWorkflow, ReportDraftWorkflow]


def cache_workflow_bytecode() -> None:
    """The sandbox imports a workflow's module afresh for every workflow instance it creates (a
    first task, or one evicted from the cache); without a .pyc (PYTHONDONTWRITEBYTECODE, as in the
    image) each import compiles the source again. Write the bytecode once, where it can be."""
    for workflow_class in WORKFLOWS:
        source = sys.modules[workflow_class.__module__].__file__
        try:
            py_compile.compile(str(source), doraise=True)
        except (OSError, py_compile.PyCompileError) as exc:
            logger.info("workflow bytecode not cached for %s: %s", source, exc)


class WorkerPart(StrEnum):
    WORKFLOWS = "workflows"
    NOTIFICATIONS = "notifications"


class ServiceWorkers:
    """The service's workers: the workflows with their DB activities on the task queue, and the
    notification sends (the outbox relay, and for histories from before it the `notify` activity
    on its own queue, `sending.notifications_task_queue`), so that mail and webhooks never hold
    up a move. One process runs both unless told to run one part."""

    def __init__(self, workers: list[Worker], relay: OutboxRelay | None = None) -> None:
        self.workers = workers
        self.relay = relay
        self._relay_stop: asyncio.Event | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> ServiceWorkers:
        for worker in self.workers:
            await self._stack.enter_async_context(worker)
        await self._stack.enter_async_context(self._relaying())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, traceback)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll until the workers end or `stop` is set; then shut down gracefully: polling stops
        at once, in-flight activities get `graceful_shutdown_timeout` to finish."""
        if stop is not None and stop.is_set():
            return
        async with self._relaying():
            running = asyncio.gather(*(worker.run() for worker in self.workers))
            if stop is None:
                await running
                return
            stopping = asyncio.ensure_future(stop.wait())
            either: set[asyncio.Future[Any]] = {running, stopping}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if stop.is_set():
                await asyncio.gather(*(worker.shutdown() for worker in self.workers))
            await running

    @contextlib.asynccontextmanager
    async def _relaying(self) -> AsyncIterator[None]:
        """The outbox relay alongside the workers (once, whether they are entered or run): it stops
        when they do, finishing the events in hand."""
        if self.relay is None or self._relay_stop is not None:
            yield
            return
        self._relay_stop = stop = asyncio.Event()
        task = asyncio.create_task(self.relay.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task
            self._relay_stop = None


def build_worker(
    client: Client,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    *,
    task_queue: str | None = None,
    parts: Iterable[WorkerPart] = tuple(WorkerPart),
    max_cached_workflows: int = 1000,
) -> ServiceWorkers:
    """Every workflow and activity of the service (or only the given parts)."""
    queue = task_queue or settings.temporal_task_queue
    notifications = NotificationActivities(settings, sessionmaker, http)
    options: dict[str, Any] = {
        "interceptors": worker_interceptors(),
        "max_concurrent_activities": 50,
        # Let in-flight DB writes and sends finish on shutdown rather than cancel them midway.
        "graceful_shutdown_timeout": timedelta(seconds=10),
    }
    workers = []
    if WorkerPart.WORKFLOWS in parts:
        cache_workflow_bytecode()
        workers.append(
            Worker(
                client,
                task_queue=queue,
                workflows=WORKFLOWS,
                max_cached_workflows=max_cached_workflows,
                # `notify` and `mark_event_failed` run on the notifications queue.
                activities=[
                    *LifecycleActivities(sessionmaker).all(),
                    *DigestActivities(settings, sessionmaker).all(),
                    *ReportActivities(sessionmaker, settings).all(),
                ],
                **options,
            )
        )
    relay = None
    if WorkerPart.NOTIFICATIONS in parts:
        relay = OutboxRelay(notifications, settings.notifications_poll_seconds)
        workers.append(
            Worker(
                client,
                task_queue=notifications_task_queue(queue),
                activities=notifications.all(),
                **options,
            )
        )
    return ServiceWorkers(workers, relay)


async def connect_when_up(
    settings: Settings, stop: asyncio.Event | None = None, within: float = 60.0
) -> Client | None:
    """A worker started while its Temporal server is (re)starting waits for it, saying so once,
    rather than die with a traceback and be restarted in a loop; None if told to stop first."""
    runtime = worker_runtime(settings)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    stop = stop or asyncio.Event()
    waiting = False
    while not stop.is_set():
        try:
            return await connect(settings, runtime=runtime)
        except RuntimeError as exc:  # the SDK's bridge: "Failed client connect: ..."
            if loop.time() > deadline:
                raise
            if not waiting:
                waiting = True
                logger.warning(
                    "Temporal at %s does not answer yet; waiting: %s", settings.temporal_address, exc
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    return None


async def run_worker(
    settings: Settings | None = None,
    parts: Iterable[WorkerPart] = tuple(WorkerPart),
    stop: asyncio.Event | None = None,
) -> None:
    settings = settings or get_settings()
    parts = tuple(parts)
    client = await connect_when_up(settings, stop)
    if client is None:
        return
    engine = create_engine(settings.database_url)
    sessionmaker = session_factory(engine)
    if WorkerPart.WORKFLOWS in parts:
        # Idempotent, so every worker may do it at start: the daily digest schedule and one
        # report draft workflow per upcoming meeting.
        await ensure_digest_schedule(client, settings)
        await ensure_report_workflows(client, sessionmaker, settings)
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as http:
        workers = build_worker(client, settings, sessionmaker, http, parts=parts)
        logger.info("worker polling %s", ", ".join(w.task_queue for w in workers.workers))
        try:
            await workers.run(stop)
        finally:
            await engine.dispose()


async def run_until_signalled(settings: Settings, parts: Iterable[WorkerPart]) -> None:
    """SIGTERM (a process manager, `synergies up`) and SIGINT shut the worker down gracefully,
    with no traceback, before the Temporal server it polls goes away."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_worker(settings, parts, stop)


def lower_priority(settings: Settings, parts: Iterable[WorkerPart]) -> None:
    """A process running only the notifications yields the CPU to moves (settings'
    `notifications_worker_nice`). Called first, before the Temporal runtime starts its threads:
    on Linux a thread's niceness is its own, and threads inherit it when they start."""
    if tuple(parts) == (WorkerPart.NOTIFICATIONS,) and settings.notifications_worker_nice:
        os.nice(settings.notifications_worker_nice)


def main(parts: Iterable[WorkerPart] = tuple(WorkerPart)) -> None:
    settings = get_settings()
    lower_priority(settings, parts)
    configure_logging(settings)
    asyncio.run(run_until_signalled(settings, parts))


if __name__ == "__main__":
    main()
