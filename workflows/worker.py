"""The worker process: `synergies worker` or `python -m workflows.worker`."""

from __future__ import annotations

import asyncio
import logging
import py_compile
import sys
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from api.observability import configure_logging
from api.settings import Settings, get_settings
from models.db import create_engine, session_factory
from workflows.activities import LifecycleActivities
from workflows.client import connect
from workflows.digest import DigestWorkflow, ensure_digest_schedule
from workflows.lifecycle import ActivityLifecycle
from workflows.notifications import NotificationActivities
from workflows.observability import worker_interceptors, worker_runtime
from workflows.reports import ReportActivities, ReportDraftWorkflow, ensure_report_workflows

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


def build_worker(
    client: Client,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    *,
    task_queue: str | None = None,
) -> Worker:
    """Every workflow and activity of the service on one task queue."""
    cache_workflow_bytecode()
    lifecycle = LifecycleActivities(sessionmaker)
    notifications = NotificationActivities(settings, sessionmaker, http)
    reports = ReportActivities(sessionmaker, settings)
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[*lifecycle.all(), *notifications.all(), *reports.all()],
        interceptors=worker_interceptors(),
        max_concurrent_activities=50,
        # Let in-flight DB writes and sends finish on shutdown rather than cancel them midway.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    engine = create_engine(settings.database_url)
    client = await connect(settings, runtime=worker_runtime(settings))
    sessionmaker = session_factory(engine)
    # Idempotent, so every worker may do it at start: the daily digest schedule and one report
    # draft workflow per upcoming meeting.
    await ensure_digest_schedule(client, settings)
    await ensure_report_workflows(client, sessionmaker, settings)
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as http:
        worker = build_worker(client, settings, sessionmaker, http)
        logger.info("worker polling task queue %s", settings.temporal_task_queue)
        try:
            await worker.run()
        finally:
            await engine.dispose()


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
