"""Worker RSS with N open lifecycle workflows holding timers (due dates 90 days ahead).

    .venv/bin/python -m bench.worker_memory -n 10000 --cache 1000 --cache 10000

For each workflow-cache bound: a fresh dev server (in memory) and SQLite database with N activities
in thematic_group due in 90 days; one worker process (`bench.worker_proc`, the service's worker with
`max_cached_workflows` set); the driver starts the N workflows (50 at a time), waits until the
worker has run every first workflow task (each then sleeps on its next reminder timer, 14 days
before the due date) and reads the worker's RSS from /proc: before the starts, after, and per
workflow. The SDK's default `max_cached_workflows` is 1000 (build_worker keeps the default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

from bench.common import (
    RESULTS,
    Children,
    Section,
    dev_server_argv,
    fresh_database,
    rss_mib,
    save,
    wait_port,
)
from bench.generate import generate
from core.supervisor import free_port


async def run(url: str, tag: str, n: int, cache: int, section: Section) -> None:
    from sqlalchemy import select

    from bench.transitions import prepare
    from core.settings import Settings
    from models import Activity
    from models.db import create_engine, session_factory
    from workflows.client import connect
    from workflows.commands import start_workflow

    ids, _ = await prepare(url, n)
    port, ui_port = free_port(), free_port()
    queue = f"mem-{uuid.uuid4().hex[:6]}"
    settings = Settings(
        database_url=url,
        temporal_address=f"127.0.0.1:{port}",
        temporal_task_queue=queue,
        workflow_id_prefix=f"{tag}-",
    )
    env = dict(
        os.environ,
        DATABASE_URL=url,
        SYNERGIES_TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        SYNERGIES_TEMPORAL_TASK_QUEUE=queue,
        SYNERGIES_WORKFLOW_ID_PREFIX=f"{tag}-",
        SYNERGIES_LOG_LEVEL="WARNING",
        BENCH_MAX_CACHED_WORKFLOWS=str(cache),
        SYNERGIES_DATA_DIR=str(RESULTS / "db"),
    )
    with Children() as children:
        server = children.start(f"temporal_mem_{cache}", dev_server_argv(port, ui_port))
        await wait_port(port)
        client = None
        for _ in range(60):
            try:
                client = await connect(settings)
                break
            except Exception:
                await asyncio.sleep(0.5)
        assert client is not None
        worker = children.start(f"worker_mem_{cache}", [sys.executable, "-m", "bench.worker_proc"], env)
        log = RESULTS / f"worker_mem_{cache}.log"
        while "worker ready" not in (log.read_text() if log.exists() else ""):  # noqa: ASYNC110 (polls a file)
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        before = rss_mib(worker.pid)
        server_before = rss_mib(server.pid)

        engine = create_engine(url)
        async with session_factory(engine)() as session:
            activities = list(await session.scalars(select(Activity).where(Activity.id.in_(ids))))
        await engine.dispose()
        sem = asyncio.Semaphore(50)

        async def start(activity: Activity) -> None:
            async with sem:
                await start_workflow(client, settings, activity)

        t0 = time.perf_counter()
        await asyncio.gather(*(start(a) for a in activities))
        started = time.perf_counter() - t0
        # settle: every workflow has had its first task when none is left on the task queue
        peak = before
        settled_at = None
        for _ in range(600):
            await asyncio.sleep(1)
            peak = max(peak, rss_mib(worker.pid))
            description = await client.get_workflow_handle(settings.workflow_id(ids[-1])).describe()
            if description.raw_description.pending_workflow_task.ByteSize() == 0:
                settled_at = time.perf_counter() - t0
                await asyncio.sleep(3)
                break
        after = rss_mib(worker.pid)
        peak = max(peak, after)
        server_after = rss_mib(server.pid)
        count = await client.count_workflows(f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'")
    label = f"cache {cache}"
    section.add(f"{label}: worker RSS before", before, "MiB")
    section.add(f"{label}: worker RSS after {n:,} workflows", after, "MiB")
    section.add(f"{label}: worker RSS peak", peak, "MiB")
    section.add(f"{label}: per workflow", (after - before) * 1024 / n, "KiB")
    section.add(f"{label}: dev server RSS growth", server_after - server_before, "MiB")
    section.notes.append(
        f"{label}: {count.count:,} running workflows; started in {started:.0f} s "
        f"({n / started:.0f}/s), all first tasks done after "
        f"{settled_at or float('nan'):.0f} s"
    )


def main(n: int | None = None, caches: list[int] | None = None) -> Section:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=n or 10_000)
    parser.add_argument("--cache", type=int, action="append")
    args = parser.parse_args([] if n is not None else None)
    section = Section(f"Worker memory ({args.n:,} open workflows with timers)")
    for cache in caches or args.cache or [1000, 10_000]:
        tag = f"mem_{uuid.uuid4().hex[:6]}"
        url = fresh_database("sqlite", tag)
        generate(url, 0, 0)
        asyncio.run(run(url, tag, args.n, cache, section))
    save(section, "worker_memory")
    return section


if __name__ == "__main__":
    main()
