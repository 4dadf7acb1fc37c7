"""Dashboard summary and overdue list on a generated database, beside the raw SQL they stand for.

    .venv/bin/python -m bench.dashboard --url sqlite+aiosqlite:///bench/results/db/gen_100000.db

Per backend, each figure is timed N times after warm-up (p50/p95):
- service: `services.dashboard.summary()` / `overdue()` on one session (what the route runs);
- http: GET /dashboard/summary and /dashboard/overdue in-process (httpx ASGITransport: auth, the
  queries, pydantic and JSON), a reader token;
- raw: the same query written as plain SQL on the driver (text(), no ORM): the summary's GROUP BY
  over the activity counts table (models.counts); the count and first 500 rows for the overdue list.
  For comparison, "summary GROUP BY raw SQL" is the aggregate the counts table replaced: activities ×
  conventions × thematic group, plus the per-stage GROUP BY (not a target).
Targets: p95 < 50 ms and service p95 <= 2x raw p95.

The oversight views (api/routes/oversight.py, and two of the pages of api/web/oversight.py) are
timed over HTTP the same way, each call of `OVERSIGHT_CALLS`; target p95 < 100 ms. Beside the wall
time, each of them reports its CPU time per call (this process, with SQLite in it, plus the
PostgreSQL backends of the bench database): the figure a shared, loaded machine does not stretch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import Section, Timing, save
from models import Activity, Person, Role, Transition
from models.db import create_engine, session_factory

RAW_SUMMARY = """
SELECT c.stage, c.thematic_group_id, c.conventions_key, b.code, b.name, sum(c.count)
FROM activity_counts c
LEFT JOIN bodies b ON b.id = c.thematic_group_id
GROUP BY c.stage, c.thematic_group_id, c.conventions_key, b.code, b.name
"""
RAW_SUMMARY_CELLS = """
SELECT a.stage, ac.convention_code, a.thematic_group_id, b.code, b.name, count(*)
FROM activities a
LEFT JOIN activity_conventions ac ON ac.activity_id = a.id
LEFT JOIN bodies b ON b.id = a.thematic_group_id
GROUP BY a.stage, ac.convention_code, a.thematic_group_id, b.code, b.name
"""
RAW_SUMMARY_STAGES = "SELECT stage, count(*) FROM activities GROUP BY stage"
RAW_OVERDUE_COUNT = """
SELECT count(*) FROM activities
WHERE stage IN ('thematic_group','task_team','pilot_project','report_to_cop') AND stage_due_on < :d
"""
RAW_OVERDUE_ROWS = """
SELECT a.id, a.title, a.stage, a.stage_due_on, a.lead_id, p.name, a.thematic_group_id
FROM activities a LEFT JOIN people p ON p.id = a.lead_id
WHERE a.stage IN ('thematic_group','task_team','pilot_project','report_to_cop') AND a.stage_due_on < :d
ORDER BY a.stage_due_on, a.id LIMIT 500
"""


MINAMATA = "convention=minamata"
OVERSIGHT_CALLS = {
    # The oversight views over HTTP (auth, queries, validation, JSON or HTML), unfiltered and filtered
    # to one convention, with their defaults (today; the last 12 weeks; 50 rows a page).
    "coverage": "/oversight/coverage",
    "coverage Minamata": f"/oversight/coverage?{MINAMATA}",
    "COP readiness": "/oversight/cop-readiness",
    "due": "/oversight/due",
    "due Minamata": f"/oversight/due?{MINAMATA}",
    "cycle time": "/oversight/cycle-time",
    "cycle time Minamata": f"/oversight/cycle-time?{MINAMATA}",
    "throughput": "/oversight/throughput",
    "throughput Minamata": f"/oversight/throughput?{MINAMATA}",
    "cumulative flow (days)": "/oversight/cumulative-flow",
    "cumulative flow Minamata (days)": f"/oversight/cumulative-flow?{MINAMATA}",
    "cumulative flow (weeks, a year)": "/oversight/cumulative-flow?interval=week&from={year_ago}",
    # The dashboard API's figures over the same log (issue 17): its defaults (30 days, 13 weeks).
    "dashboard cumulative flow": "/dashboard/cumulative-flow",
    "dashboard throughput": "/dashboard/throughput",
    "dashboard stage times (12 weeks)": "/dashboard/stage-times?from={weeks_ago}",
    # Filters no rollup answers (thematic group, lead): these read the log.
    "coverage (a thematic group)": "/oversight/coverage?thematic_group={group}",
    "cycle time (a thematic group)": "/oversight/cycle-time?thematic_group={group}",
    "cumulative flow (a lead)": "/oversight/cumulative-flow?lead={lead}",
    "transitions": "/oversight/transitions",
    "transitions Minamata": f"/oversight/transitions?{MINAMATA}",
    "activities (a provision)": "/oversight/activities?provision=1",
    "activities Minamata overdue": f"/oversight/activities?{MINAMATA}&due=overdue",
    "coverage CSV": "/oversight/coverage?format=csv",
    "due XLSX": "/oversight/due?format=xlsx",
    "page: overview": "/app/oversight",
    "page: flow and cycle time": "/app/oversight/flow",
}


SLOW_SECONDS = 1.0
SLOW_N = 5
CPU_TIMES: dict[int, Timing] = {}
"""CPU seconds per call of the last `_time` runs, by id of their wall Timing: this process (the
app, and SQLite, which runs in it) plus the PostgreSQL backends serving the bench database. On a
machine shared with other work, wall times stretch with the load average; CPU per call does not,
and is what a call takes on a quiet machine, less its waits on I/O and the network."""
_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(database: str | None) -> float:
    """CPU seconds so far of the PostgreSQL backends connected to `database` (/proc)."""
    if not database:
        return 0.0
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                command = f.read()
            if b"postgres:" not in command or f" {database} ".encode() not in command:
                continue
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            continue
    return total / _TICKS


async def _time(call: Any, n: int, warmup: int = 3, database: str | None = None) -> Timing:
    for k in range(warmup):
        t0 = time.perf_counter()
        await call()
        if k == 0 and time.perf_counter() - t0 > SLOW_SECONDS:
            n, warmup = min(n, SLOW_N), 1  # a call over a second: fewer runs keep the bench short
            break
    latencies, cpu = [], []
    start = time.perf_counter()
    for _ in range(n):
        c0 = time.process_time() + backend_cpu(database)
        t0 = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - t0)
        cpu.append(time.process_time() + backend_cpu(database) - c0)
    timing = Timing(latencies, time.perf_counter() - start)
    CPU_TIMES[id(timing)] = Timing(cpu, sum(cpu))
    return timing


async def reader_secret(url: str, issue: Callable[[AsyncSession, Person], Awaitable[str]]) -> str:
    """A secret (`issue`: an API token, a web session) for the bench's oversight member, created on
    first use in the bench database."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            person = await session.scalar(select(Person).where(Person.email == "bench.reader@example.org"))
            if person is None:
                person = Person(name="Bench reader", email="bench.reader@example.org", role=Role.OVERSIGHT)
                session.add(person)
                await session.flush()
            return await issue(session, person)
    finally:
        await engine.dispose()


async def _token(url: str) -> str:
    from services.tokens import issue_token

    async def issue(session: AsyncSession, person: Person) -> str:
        return (await issue_token(session, person, name="bench"))[1]

    return await reader_secret(url, issue)


async def run(url: str, n: int, section: Section, label: str) -> None:
    from api.main import create_app, freeze_startup_heap
    from core.settings import Settings
    from services import dashboard as service

    today = date.today()
    where = service.DashboardFilter()
    engine = create_engine(url)
    maker = session_factory(engine)
    async with maker() as session:
        activities = await session.scalar(select(func.count()).select_from(Activity))
        transitions = await session.scalar(select(func.count()).select_from(Transition))
        # The thematic group and the lead with the most activities: the heaviest of their filters.
        group, lead = [
            await session.scalar(
                select(column)
                .where(column.is_not(None))
                .group_by(column)
                .order_by(func.count().desc())
                .limit(1)
            )
            for column in (Activity.thematic_group_id, Activity.lead_id)
        ]
    section.notes.append(f"{label}: {activities:,} activities, {transitions:,} transitions")
    print(f"{label}: {activities:,} activities, {transitions:,} transitions", flush=True)

    async def in_session(fn: Any) -> Any:
        async with maker() as session:
            return await fn(session)

    timings: dict[str, Timing] = {}
    timings["summary service"] = await _time(lambda: in_session(lambda s: service.summary(s, where)), n)
    timings["summary raw SQL"] = await _time(lambda: in_session(lambda s: _raw(s, RAW_SUMMARY)), n)
    timings["summary GROUP BY raw SQL"] = await _time(
        lambda: in_session(lambda s: _raw(s, RAW_SUMMARY_CELLS, RAW_SUMMARY_STAGES)), n
    )
    timings["overdue service"] = await _time(
        lambda: in_session(lambda s: service.overdue(s, where, as_of=today, limit=500)), n
    )
    timings["overdue raw SQL"] = await _time(
        lambda: in_session(lambda s: _raw(s, RAW_OVERDUE_COUNT, RAW_OVERDUE_ROWS, d=today)), n
    )
    await engine.dispose()

    token = await _token(url)
    app = create_app(Settings(database_url=url, metrics_enabled=False, log_level="WARNING"))
    freeze_startup_heap()  # as `api.main:app` does in uvicorn
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {token}"}
        ) as http:

            async def get(path: str) -> None:
                response = await http.get(path)
                response.raise_for_status()

            timings["summary http"] = await _time(lambda: get("/dashboard/summary"), n)
            timings["overdue http"] = await _time(lambda: get("/dashboard/overdue"), n)
            year_ago = (today - timedelta(days=365)).isoformat()
            weeks_ago = (today - timedelta(weeks=12) + timedelta(days=1)).isoformat()
            database = url.rsplit("/", 1)[1] if url.startswith("postgresql") else None
            oversight = {}
            for name, path in OVERSIGHT_CALLS.items():
                target = path.format(year_ago=year_ago, weeks_ago=weeks_ago, group=group, lead=lead)
                oversight[name] = await _time(lambda target=target: get(target), n, database=database)
                cpu = CPU_TIMES[id(oversight[name])]
                print(
                    f"{label} {name}: wall p50 {oversight[name].p50 * 1000:.0f} ms p95 "
                    f"{oversight[name].p95 * 1000:.0f} ms; CPU p50 {cpu.p50 * 1000:.0f} ms "
                    f"p95 {cpu.p95 * 1000:.0f} ms",
                    flush=True,
                )

    for name, timing in oversight.items():
        ms_p95 = timing.p95 * 1000
        section.add(f"{label} oversight {name} p50", timing.p50 * 1000, "ms")
        section.add(f"{label} oversight {name} p95", ms_p95, "ms", target="< 100 ms", met=ms_p95 < 100)
        cpu_p95 = CPU_TIMES[id(timing)].p95 * 1000
        section.add(f"{label} oversight {name} CPU p95", cpu_p95, "ms")

    for name, timing in timings.items():
        ms_p95 = timing.p95 * 1000
        kind = name.split()[0]
        is_target = not name.endswith("raw SQL")
        section.add(f"{label} {name} p50", timing.p50 * 1000, "ms")
        if is_target:
            section.add(f"{label} {name} p95", ms_p95, "ms", target="< 50 ms", met=ms_p95 < 50)
        else:
            section.add(f"{label} {name} p95", ms_p95, "ms")
        if name.endswith("service"):
            raw = timings[f"{kind} raw SQL"].p95 * 1000
            ratio = ms_p95 / raw if raw else float("nan")
            section.add(f"{label} {kind} service / raw p95", ratio, "x", target="<= 2x", met=ratio <= 2)


async def _raw(session: Any, *statements: str, **params: Any) -> None:
    for statement in statements:
        bound = {k: v for k, v in params.items() if f":{k}" in statement}
        (await session.execute(text(statement), bound)).all()


def main(urls: list[str] | None = None, n: int = 30) -> Section:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument("-n", type=int, default=n)
    args = parser.parse_args([] if urls is not None else None)
    section = Section("Dashboard")
    for url in urls or args.url:
        label = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        asyncio.run(run(url, args.n, section, label))
    save(section, "dashboard")
    return section


if __name__ == "__main__":
    main()
