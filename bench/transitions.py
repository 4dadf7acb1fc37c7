"""A move end to end (HTTP → API → Temporal Update → validator → `record_transition` → answer)
beside a bare Temporal Update whose handler runs one activity writing one row, in ONE run on the
same dev server, worker process and database.

    .venv/bin/python -m bench.transitions --backend sqlite -n 300
    .venv/bin/python -m bench.transitions --backend postgresql -n 300

Processes (all on free ports, all stopped at the end): `temporal server start-dev` (in memory),
an aiosmtpd sink (the notifications that every move sends go somewhere real), two worker processes
as `synergies up` runs them (`bench.worker_proc`: the workflows part of `build_worker` + the bare
workflow on its own task queue; and the notifications part), the API as a real
`uvicorn api.main:app` subprocess, and this driver (httpx for the API, a Temporal client for the
bare updates).

Every move is thematic_group → task_team of a distinct, prepared activity (its own workflow), so
no move waits on another and no run nears the per-workflow update limits; the bare updates go
to distinct bare workflows likewise. Sequential: N in a row. Concurrent: 20 lanes, each its own
activities, N in all. Between phases the driver waits until the worker is idle (notifications
of the previous phase sent), so the phases do not bleed into each other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, select, text

from bench.bare import CREATE_TABLE, TASK_QUEUE_SUFFIX, BareWorkflow
from bench.common import (
    RESULTS,
    Children,
    Section,
    Timing,
    dev_server_argv,
    drop_pg_database,
    fresh_database,
    save,
    smtp_sink_argv,
    timed_concurrent,
    timed_sequential,
    wait_port,
)
from bench.generate import generate
from core.supervisor import free_port
from models import Activity, Person, Role, TaskTeam, Transition, activity_conventions
from models.counts import rebuild_counts
from models.db import create_engine, session_factory

LANES = 20


async def prepare(url: str, count: int) -> tuple[list[int], str]:
    """`count` activities in thematic_group ready to move to task_team; a coordinator's token."""
    from services.tokens import issue_token

    engine = create_engine(url)
    maker = session_factory(engine)
    now = datetime.now(UTC)
    try:
        async with maker() as session, session.begin():
            auto = " AUTOINCREMENT" if url.startswith("sqlite") else ""
            ddl = CREATE_TABLE.format(auto=auto)
            if not url.startswith("sqlite"):
                ddl = ddl.replace("id INTEGER PRIMARY KEY", "id SERIAL PRIMARY KEY")
            await session.execute(text(ddl))
            team = await session.scalar(select(TaskTeam).order_by(TaskTeam.id).limit(1))
            coordinator = await session.scalar(select(Person).where(Person.role == Role.COORDINATOR).limit(1))
            assert team is not None and coordinator is not None
            start = int(await session.scalar(text("SELECT coalesce(max(id), 0) FROM activities"))) + 1
            ids = list(range(start, start + count))
            await session.execute(
                insert(Activity),
                [
                    dict(
                        id=i,
                        title=f"Bench move {i}",
                        description="",
                        stage="thematic_group",
                        stage_entered_at=now,
                        stage_due_on=date.today() + timedelta(days=90),
                        task_team_id=team.id,
                        lead_id=team.lead_id,
                        transition_count=1,
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                    for i in ids
                ],
            )
            await session.execute(
                insert(activity_conventions),
                [dict(activity_id=i, convention_code=c) for i in ids for c in ("basel", "stockholm")],
            )
            await session.execute(
                insert(Transition),
                [
                    dict(
                        activity_id=i,
                        seq=1,
                        from_stage=None,
                        to_stage="thematic_group",
                        actor_id=coordinator.id,
                        at=now,
                        reason="created",
                        due_on=date.today() + timedelta(days=90),
                        details={},
                    )
                    for i in ids
                ],
            )
            if not url.startswith("sqlite"):
                await session.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('activities', 'id'), "
                        "(SELECT max(id) FROM activities))"
                    )
                )
            await rebuild_counts(session)  # core inserts bypass the counts hook
            _, token = await issue_token(session, coordinator, name="bench")
        return ids, token
    finally:
        await engine.dispose()


async def wait_idle(client: Any, seconds: float = 2.0) -> None:
    """Let the previous phase's background work (notifications) drain."""
    await asyncio.sleep(seconds)


def setup(backend: str) -> tuple[str, str]:
    tag = f"moves_{uuid.uuid4().hex[:6]}"
    url = fresh_database(backend, tag)
    generate(url, 0, 0)  # reference data, people, task teams
    return url, tag


async def run(backend: str, url: str, tag: str, n: int, section: Section, keep: bool = False) -> None:
    warm = 40
    ids, token = await prepare(url, warm + 2 * n + 2 * LANES)
    temporal_port, ui_port, api_port, smtp_port = free_port(), free_port(), free_port(), free_port()
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ,
        DATABASE_URL=url,
        SYNERGIES_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
        SYNERGIES_TEMPORAL_TASK_QUEUE=queue,
        SYNERGIES_WORKFLOW_ID_PREFIX=f"{tag}-",
        SYNERGIES_SMTP_PORT=str(smtp_port),
        SYNERGIES_LOG_LEVEL="WARNING",
        SYNERGIES_DATA_DIR=str(RESULTS / "db"),
        SYNERGIES_PUBLIC_URL=f"http://127.0.0.1:{api_port}",
        SYNERGIES_METRICS_ENABLED="true",
    )
    from core.settings import Settings
    from workflows.client import connect
    from workflows.commands import start_workflow

    settings = Settings(
        database_url=url,
        temporal_address=f"127.0.0.1:{temporal_port}",
        temporal_task_queue=queue,
        workflow_id_prefix=f"{tag}-",
    )
    with Children() as children:
        children.start("temporal", dev_server_argv(temporal_port, ui_port))
        children.start("smtp", smtp_sink_argv(smtp_port))
        await wait_port(temporal_port)
        await wait_port(smtp_port)
        client = None
        for _ in range(60):
            try:
                client = await connect(settings)
                break
            except Exception:
                await asyncio.sleep(0.5)
        assert client is not None
        worker = children.start(
            "worker", [sys.executable, "-m", "bench.worker_proc"], env | {"BENCH_WORKER_PART": "workflows"}
        )
        children.start(
            "notifier",
            [sys.executable, "-m", "bench.worker_proc"],
            env | {"BENCH_WORKER_PART": "notifications"},
        )
        api = children.start(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env,
        )
        await wait_port(api_port)

        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                activities = list(
                    await session.scalars(select(Activity).where(Activity.id.in_(ids)).order_by(Activity.id))
                )
            t0 = time.perf_counter()
            sem = asyncio.Semaphore(20)

            async def start(activity: Activity) -> None:
                async with sem:
                    await start_workflow(client, settings, activity)

            await asyncio.gather(*(start(a) for a in activities))
        finally:
            await engine.dispose()
        bare_ids = [f"{tag}-bare-{k}" for k in range(len(ids))]
        bare_handles = [
            await client.start_workflow(BareWorkflow.run, id=w, task_queue=queue + TASK_QUEUE_SUFFIX)
            for w in bare_ids
        ]
        print(
            f"  started {len(ids)} lifecycle + {len(bare_ids)} bare workflows in "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )

        limits = httpx.Limits(max_connections=LANES + 5, max_keepalive_connections=LANES + 5)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api_port}",
            limits=limits,
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            failures: list[str] = []

            async def move(activity_id: int) -> None:
                response = await http.post(
                    f"/activities/{activity_id}/transitions", json={"to": "task_team", "expected_version": 1}
                )
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

            async def bare(k: int) -> None:
                await bare_handles[k].execute_update(BareWorkflow.write)

            # warm-up: connections, caches, the API's Temporal client
            for k in range(warm):
                await move(ids[k])
                await bare(k)
            await wait_idle(client)
            cursor = warm
            results: dict[str, Timing] = {}
            results["bare sequential"] = await timed_sequential(lambda i: bare(cursor + i), n)
            await wait_idle(client)
            results["API sequential"] = await timed_sequential(lambda i: move(ids[cursor + i]), n)
            cursor += n
            await wait_idle(client, 4)
            per_lane = n // LANES
            results["bare concurrent"] = await timed_concurrent(
                lambda lane, i: bare(cursor + lane * per_lane + i), LANES, per_lane
            )
            await wait_idle(client)
            results["API concurrent"] = await timed_concurrent(
                lambda lane, i: move(ids[cursor + lane * per_lane + i]), LANES, per_lane
            )
            await wait_idle(client, 3)
            if failures:
                section.notes.append(f"{backend}: {len(failures)} failed moves, first: {failures[0]}")
                print("  FAILURES", len(failures), failures[:3], flush=True)

        for handle in bare_handles:
            await handle.signal(BareWorkflow.finish)
        label = "PostgreSQL" if backend == "postgresql" else "SQLite"
        for mode in ("sequential", "concurrent"):
            bare_t, api_t = results[f"bare {mode}"], results[f"API {mode}"]
            what = f"{label} {mode}" + (f" (c={LANES})" if mode == "concurrent" else f" (N={n})")
            section.add(f"{what} bare throughput", bare_t.throughput, "ops/s")
            section.add(f"{what} bare p50", bare_t.p50 * 1000, "ms")
            section.add(f"{what} bare p95", bare_t.p95 * 1000, "ms")
            ratio = api_t.throughput / bare_t.throughput
            section.add(f"{what} API throughput", api_t.throughput, "moves/s")
            section.add(f"{what} API/bare throughput", ratio, "x", target=">= 0.7x", met=ratio >= 0.7)
            section.add(f"{what} API p50", api_t.p50 * 1000, "ms")
            section.add(f"{what} API p95", api_t.p95 * 1000, "ms")
            p95_ratio = api_t.p95 / bare_t.p95
            section.add(f"{what} API/bare p95", p95_ratio, "x", target="<= 1.5x", met=p95_ratio <= 1.5)
            if mode == "concurrent":
                section.add(
                    f"{what} API moves/s",
                    api_t.throughput,
                    "moves/s",
                    target=">= 150/s",
                    met=api_t.throughput >= 150,
                )
        section.notes.append(
            f"{label}: worker pid {worker.pid}, api pid {api.pid}; {len(failures)} failed moves"
        )
    if backend == "postgresql" and not keep:
        await drop_pg_database(url)


def main(backends: list[str] | None = None, n: int = 300) -> Section:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("-n", type=int, default=n)
    args = parser.parse_args([] if backends is not None else None)
    section = Section("Transitions: API end to end vs bare Update")
    section.notes.append(
        "API as a real uvicorn subprocess (1 process), workflows worker and "
        "notifications worker as their own processes, dev server in memory, SMTP "
        "sink, driver in this process: 6 processes on the same cores."
    )
    for backend in backends or args.backend or ["sqlite"]:
        url, tag = setup(backend)
        asyncio.run(run(backend, url, tag, args.n, section))
    save(section, "transitions")
    return section


if __name__ == "__main__":
    main()
