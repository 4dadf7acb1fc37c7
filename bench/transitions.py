"""A move end to end (HTTP → API → Temporal Update → validator → `record_transition` → answer)
beside honest references, in ONE run on the same dev server, worker process and database:

- **no-op Update** (`bench.bare.BareWorkflow.noop`): the engine's ceiling on this machine;
- **local-write Update** (`BareWorkflow.record`): an Update whose handler runs the move's own write
  path, the local activity `record_transition` (same function, transaction and options);
- **regular-activity Update** (`BareWorkflow.write`): the old "bare" reference, one row inserted
  by a regular activity (a round trip through the activity queue);
- **plain endpoint** (`bench.plain_app`): FastAPI + SQLAlchemy running the same `record_transition`
  without Temporal, served by its own uvicorn process like the API;
- **bulk**: `POST /transitions/bulk` of 100 moves (distinct activities), three times.

    .venv/bin/python -m bench.transitions --backend sqlite --backend postgresql -n 200
    .venv/bin/python -m bench.transitions --backend postgresql -n 200 --only api --profile before

Processes (all on free ports, all stopped at the end): `temporal server start-dev` (in memory),
an aiosmtpd sink (the notifications that every move sends go somewhere real), two worker processes
as `synergies up` runs them (`bench.worker_proc`: the workflows part of `build_worker` + the
reference workflow on its own task queue; and the notifications part, which relays the events
the moves write to the outbox), the API as a real
`uvicorn api.main:app` subprocess, the plain endpoint as another uvicorn, and this driver.

Every move is thematic_group → task_team of a distinct, prepared activity (its own workflow), so
no move waits on another; the reference updates go to distinct reference workflows likewise (the
local-write one to its own prepared activities). Sequential: N in a row. Concurrent: 20 lanes,
each its own activities, N in all. Between phases the driver waits a little so that the previous
phase's notifications drain. The CPU time of the API and workflows-worker processes over the API
phases (from /proc) gives the service's CPU per move; `--profile TAG` runs the API and the
worker under `py-spy record` (raw collapsed stacks in bench/results/profiles/TAG-*.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text

from bench.bare import CREATE_TABLE, TASK_QUEUE_SUFFIX, BareWorkflow, RecordRequest
from bench.common import (
    BIN,
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
    uvicorn_argv,
    wait_port,
)
from bench.generate import generate
from core.supervisor import free_port
from models import Activity, Person, Role, TaskTeam, Transition, activity_conventions
from models.counts import rebuild_counts
from models.db import create_engine, session_factory
from models.rollups import rebuild_rollups

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
            await rebuild_rollups(session)  # and the log's rollups
            _, token = await issue_token(session, coordinator, name="bench")
        return ids, token
    finally:
        await engine.dispose()


async def wait_idle(seconds: float = 2.0) -> None:
    """Let the previous phase's background work (notifications) drain."""
    await asyncio.sleep(seconds)


def cpu_seconds(pid: int, *, profiled: bool = False) -> float:
    """User + system CPU of a process and its live children, from /proc; `profiled`: `pid` is
    py-spy, and only its target (the child) counts, not the sampler's own CPU."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [] if profiled else [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def setup(backend: str) -> tuple[str, str]:
    tag = f"moves_{uuid.uuid4().hex[:6]}"
    url = fresh_database(backend, tag)
    generate(url, 0, 0)  # reference data, people, task teams
    return url, tag


PHASES = ("noop", "record", "write", "plain", "api", "bulk")
BULK_SIZE, BULK_RUNS = 100, 3


def _profiled(argv: list[str], out: Path | None) -> list[str]:
    if out is None:
        return argv
    return [str(BIN / "py-spy"), "record", "--format", "raw", "--rate", "200", "-o", str(out), "--", *argv]


async def run(
    backend: str,
    url: str,
    tag: str,
    n: int,
    section: Section,
    *,
    phases: tuple[str, ...] = PHASES,
    profile: str | None = None,
    keep: bool = False,
) -> None:
    warm = 30
    per_phase = warm + 2 * n
    label = "PostgreSQL" if backend == "postgresql" else "SQLite"
    pools: dict[str, list[int]] = {}
    sizes = {"api": per_phase, "record": per_phase, "plain": per_phase, "bulk": BULK_SIZE * (BULK_RUNS + 1)}
    ids, token = await prepare(url, sum(sizes[p] for p in sizes if p in phases))
    cursor = 0
    for name, size in sizes.items():
        if name in phases:
            pools[name], cursor = ids[cursor : cursor + size], cursor + size
    async with session_factory(engine := create_engine(url))() as session:
        actor_id = int(
            await session.scalar(select(Person.id).where(Person.role == Role.COORDINATOR).limit(1)) or 0
        )
    await engine.dispose()
    temporal_port, ui_port, api_port, smtp_port, plain_port = (free_port() for _ in range(5))
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
    profiles = RESULTS / "profiles"
    if profile:
        profiles.mkdir(parents=True, exist_ok=True)
    out = {
        k: (profiles / f"{profile}-{backend}-{k}.txt" if profile else None)
        for k in ("api", "worker", "notifier")
    }
    print(f"  {label}: load average {load()} at the start", flush=True)
    section.notes.append(f"{label}: load average {load()} at the start of the run")
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
            "worker",
            _profiled([sys.executable, "-m", "bench.worker_proc"], out["worker"]),
            env | {"BENCH_WORKER_PART": "workflows"},
        )
        notifier = children.start(
            "notifier",
            _profiled([sys.executable, "-m", "bench.worker_proc"], out["notifier"]),
            env | {"BENCH_WORKER_PART": "notifications"},
        )
        api = children.start("api", _profiled(uvicorn_argv("api.main:app", api_port), out["api"]), env)
        if "plain" in phases:
            children.start("plain", uvicorn_argv("bench.plain_app:app", plain_port), env)
            await wait_port(plain_port, 120)
        await wait_port(api_port, 300 if profile else 120)  # under py-spy on a loaded machine: minutes

        lifecycle_ids = pools.get("api", []) + pools.get("bulk", [])
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                activities = list(
                    await session.scalars(
                        select(Activity).where(Activity.id.in_(lifecycle_ids)).order_by(Activity.id)
                    )
                )
            t0 = time.perf_counter()
            sem = asyncio.Semaphore(20)

            async def start(activity: Activity) -> None:
                async with sem:
                    await start_workflow(client, settings, activity)

            await asyncio.gather(*(start(a) for a in activities))
        finally:
            await engine.dispose()
        bare_count = per_phase if any(p in phases for p in ("noop", "record", "write")) else 0
        bare_handles = [
            await client.start_workflow(
                BareWorkflow.run, id=f"{tag}-bare-{k}", task_queue=queue + TASK_QUEUE_SUFFIX
            )
            for k in range(bare_count)
        ]
        print(
            f"  started {len(activities)} lifecycle + {bare_count} reference workflows in "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )

        def cpu_of(child: Any) -> float:
            return cpu_seconds(child.pid or 0, profiled=bool(profile))

        limits = httpx.Limits(max_connections=LANES + 5, max_keepalive_connections=LANES + 5)
        failures: list[str] = []
        results: dict[str, Timing] = {}
        cpu: dict[str, float] = {}
        async with (
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{api_port}",
                limits=limits,
                timeout=60,
                headers={"Authorization": f"Bearer {token}"},
            ) as http,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{plain_port}", limits=limits, timeout=60) as plain,
        ):

            async def move(activity_id: int) -> None:
                response = await http.post(
                    f"/activities/{activity_id}/transitions", json={"to": "task_team", "expected_version": 1}
                )
                if response.status_code != 200:
                    failures.append(f"move {response.status_code} {response.text[:200]}")

            async def plain_move(activity_id: int) -> None:
                response = await plain.post(f"/plain/{activity_id}", params={"actor_id": actor_id})
                if response.status_code != 200:
                    failures.append(f"plain {response.status_code} {response.text[:200]}")

            calls: dict[str, Any] = {
                "noop": lambda k: bare_handles[k].execute_update(BareWorkflow.noop),
                "record": lambda k: bare_handles[k].execute_update(
                    BareWorkflow.record, RecordRequest(pools["record"][k], actor_id)
                ),
                "write": lambda k: bare_handles[k].execute_update(BareWorkflow.write),
                "plain": lambda k: plain_move(pools["plain"][k]),
                "api": lambda k: move(pools["api"][k]),
            }
            timed = [p for p in ("noop", "record", "write", "plain", "api") if p in phases]
            for k in range(warm):  # connections, caches, the API's Temporal client
                for phase in timed:
                    await calls[phase](k)
            await wait_idle()
            per_lane = n // LANES
            for mode in ("sequential", "concurrent"):
                base = warm if mode == "sequential" else warm + n
                for phase in timed:
                    print(f"  {mode} {phase}: load average {load()}", flush=True)
                    before = [cpu_of(c) for c in (api, worker, notifier)]
                    if mode == "sequential":
                        timing = await timed_sequential(lambda i, p=phase, b=base: calls[p](b + i), n)
                    else:
                        timing = await timed_concurrent(
                            lambda lane, i, p=phase, b=base: calls[p](b + lane * per_lane + i),
                            LANES,
                            per_lane,
                        )
                    results[f"{phase} {mode}"] = timing
                    await wait_idle(3 if phase == "api" else 1)
                    count = len(timing.latencies)
                    cpu[f"{phase} worker {mode}"] = (cpu_of(worker) - before[1]) / count
                    if phase == "api":  # with the notifications of these moves, sent in the pause
                        for name, child, t0_cpu in zip(
                            ("api", "worker", "notifier"), (api, worker, notifier), before, strict=True
                        ):
                            cpu[f"{name} {mode}"] = (cpu_of(child) - t0_cpu) / count
            bulk_times: list[float] = []
            bulk_replay: list[float] = []
            if "bulk" in phases:
                pool = pools["bulk"]
                for run_no in range(BULK_RUNS + 1):  # the first is a warm-up
                    items = [
                        {"activity_id": a, "to": "task_team", "expected_version": 1}
                        for a in pool[run_no * BULK_SIZE : (run_no + 1) * BULK_SIZE]
                    ]
                    key = f"bulk-{uuid.uuid4().hex}"
                    t0 = time.perf_counter()
                    response = await http.post(
                        "/transitions/bulk", json={"items": items}, headers={"Idempotency-Key": key}
                    )
                    elapsed = time.perf_counter() - t0
                    statuses = [o["status"] for o in response.json()] if response.status_code == 200 else []
                    if statuses.count(200) != len(items):
                        failures.append(f"bulk {response.status_code} {sorted(set(statuses))}")
                    t0 = time.perf_counter()
                    again = await http.post(
                        "/transitions/bulk", json={"items": items}, headers={"Idempotency-Key": key}
                    )
                    replay = time.perf_counter() - t0
                    same = [o["status"] for o in again.json()] if again.status_code == 200 else []
                    if same.count(200) != len(items):
                        failures.append(f"bulk replay {again.status_code} {sorted(set(same))}")
                    if run_no:
                        bulk_times.append(elapsed)
                        bulk_replay.append(replay)
                    await wait_idle(3)
            if failures:
                section.notes.append(f"{backend}: {len(failures)} failures, first: {failures[0]}")
                print("  FAILURES", len(failures), failures[:3], flush=True)

        for handle in bare_handles:
            await handle.signal(BareWorkflow.finish)
        for name, child in (("api", api), ("worker", worker), ("notifier", notifier)):
            if profile and child.process is not None:  # stop the profiled process: py-spy writes
                for target in _children_of(child.process.pid):
                    os.kill(target, signal.SIGTERM)
                try:
                    child.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    print(f"  py-spy of {name} did not finish", flush=True)
        _report(section, label, n, results, cpu, bulk_times, bulk_replay)
        section.notes.append(
            f"{label}: {len(failures)} failures; load average {load()} at the end of the run"
        )
    if backend == "postgresql" and not keep:
        await drop_pg_database(url)


def _children_of(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def _report(
    section: Section,
    label: str,
    n: int,
    results: dict[str, Timing],
    cpu: dict[str, float],
    bulk_times: list[float],
    bulk_replay: list[float],
) -> None:
    names = {
        "noop": "no-op Update",
        "record": "local-write Update",
        "write": "regular-activity Update",
        "plain": "plain endpoint",
    }
    for mode in ("sequential", "concurrent"):
        what = f"{label} {mode}" + (f" (c={LANES})" if mode == "concurrent" else f" (N={n})")
        for phase, name in names.items():
            timing = results.get(f"{phase} {mode}")
            if timing is None:
                continue
            section.add(f"{what} {name} throughput", timing.throughput, "ops/s")
            section.add(f"{what} {name} p50", timing.p50 * 1000, "ms")
            section.add(f"{what} {name} p95", timing.p95 * 1000, "ms")
            if phase in ("noop", "record", "write"):
                section.add(f"{what} {name} worker CPU per op", cpu[f"{phase} worker {mode}"] * 1000, "ms")
        api = results.get(f"api {mode}")
        if api is None:
            continue
        section.add(f"{what} move throughput", api.throughput, "moves/s")
        section.add(f"{what} move p50", api.p50 * 1000, "ms")
        section.add(f"{what} move p95", api.p95 * 1000, "ms")
        for phase, name in names.items():
            ref = results.get(f"{phase} {mode}")
            if ref is None:
                continue
            target, met = "", None
            if phase == "record" and mode == "sequential":
                target, met = "<= 2x", api.p50 / ref.p50 <= 2
            section.add(f"{what} move/{name} p50", api.p50 / ref.p50, "x", target=target, met=met)
            target, met = "", None
            if phase == "record" and mode == "concurrent" and label == "PostgreSQL":
                target, met = ">= 0.5x", api.throughput / ref.throughput >= 0.5
            section.add(
                f"{what} move/{name} throughput", api.throughput / ref.throughput, "x", target=target, met=met
            )
        if mode == "concurrent" and label == "SQLite":
            section.add(
                f"{what} move p95 (target)", api.p95 * 1000, "ms", target="<= 1000 ms", met=api.p95 <= 1
            )
        if f"api {mode}" in cpu:
            section.add(f"{what} API process CPU per move", cpu[f"api {mode}"] * 1000, "ms")
            section.add(f"{what} workflows worker CPU per move", cpu[f"worker {mode}"] * 1000, "ms")
            section.add(f"{what} notifications worker CPU per move", cpu[f"notifier {mode}"] * 1000, "ms")
            service = sum(cpu[f"{name} {mode}"] for name in ("api", "worker", "notifier"))
            section.add(f"{what} service CPU per move (API + workers)", service * 1000, "ms")
    if bulk_times:
        limit = 2.0 if label == "PostgreSQL" else 4.0
        worst = max(bulk_times)
        section.add(
            f"{label} bulk of {BULK_SIZE} moves, median of {len(bulk_times)}",
            statistics.median(bulk_times),
            "s",
            target=f"< {limit:g} s",
            met=statistics.median(bulk_times) < limit,
        )
        section.add(f"{label} bulk of {BULK_SIZE} moves, slowest", worst, "s")
        section.add(
            f"{label} bulk of {BULK_SIZE} repeated (all replayed), median",
            statistics.median(bulk_replay),
            "s",
        )


def main(backends: list[str] | None = None, n: int = 200) -> Section:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("-n", type=int, default=n)
    parser.add_argument("--only", action="append", choices=PHASES, help="run only these phases")
    parser.add_argument("--profile", metavar="TAG", help="py-spy the API and the workflows worker")
    args = parser.parse_args([] if backends is not None else None)
    section = Section("Transitions: a move against its references")
    section.notes.append(
        "API and plain endpoint as real uvicorn subprocesses (1 process each), workflows worker "
        "and notifications worker as their own processes, dev server in memory, SMTP sink, "
        "driver in this process: 7 processes on the same 2 cores."
    )
    phases = tuple(args.only) if args.only else PHASES
    for backend in backends or args.backend or ["sqlite"]:
        url, tag = setup(backend)
        asyncio.run(run(backend, url, tag, args.n, section, phases=phases, profile=args.profile))
    save(
        section,
        "transitions" if not args.only and not args.profile else f"transitions-{args.profile or 'part'}",
    )
    return section


if __name__ == "__main__":
    main()
