"""The oversight pages as a person opens them: loaded in Chromium from a real server (issue 16
point 6: every view opens in under 1 s at 100,000 activities / 1,000,000 transitions).

    .venv/bin/python -m bench.pages --url sqlite+aiosqlite:///bench/results/db/gen_100000.db

Per database, one uvicorn process (`api.main:app`, like `synergies up`'s) serves it; the system
Chromium (Playwright, launched as the browser tests launch it) carries the web session cookie of
an oversight member and loads each page of `PAGES` n times after warm-ups. Per page, p50/p95 of:
- server: the navigation's responseStart - requestStart (the server's time to the first byte:
  auth, the queries, the template);
- DOMContentLoaded and load, from the navigation's start (parsing, styles, scripts, the charts
  drawn; load also waits for the images and the deferred scripts' files);
- server CPU per load: the uvicorn process (the app, and SQLite, which runs in it) plus the
  PostgreSQL backends serving the bench database, over the whole load (the page and its static
  files): what the load costs on a quiet machine, not stretched by a shared one's load;
and the rows of the largest table in the DOM, which must stay a page (never thousands).
Target: load p95 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import Children, Section, Timing, save, uvicorn_argv, wait_port
from bench.dashboard import backend_cpu, reader_secret
from core.supervisor import free_port
from models import Activity, Person, Transition
from models.db import create_engine, session_factory

MINAMATA = "convention=minamata"
PAGES = {
    "overview": "/app/oversight",
    "mandate coverage": "/app/oversight/coverage",
    "COP readiness": "/app/oversight/cop-readiness",
    "overdue and due soon": "/app/oversight/due",
    "flow and cycle time": "/app/oversight/flow",
    "recent transitions": "/app/oversight/transitions",
    "activities": "/app/oversight/activities",
    "overview, Minamata": f"/app/oversight?{MINAMATA}",
    "activities, Minamata overdue": f"/app/oversight/activities?{MINAMATA}&due=overdue",
}
LOAD_TARGET_MS = 1000
MAX_TABLE_ROWS = 200  # a page of a list (50 rows, 200 live rows of recent transitions), never thousands
# Read once the page has loaded: its navigation timing and the largest table.
MEASURE = """() => {
  const t = performance.getEntriesByType("navigation")[0];
  const rows = Array.from(document.querySelectorAll("table"), (table) => table.rows.length);
  return {
    server: t.responseStart - t.requestStart,
    dcl: t.domContentLoadedEventEnd - t.startTime,
    load: t.loadEventEnd - t.startTime,
    rows: Math.max(0, ...rows),
    elements: document.getElementsByTagName("*").length,
    status: t.responseStatus,
  };
}"""
LOADED = "() => performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0"


def _cpu_seconds(pid: int) -> float:
    """CPU seconds so far of process `pid` (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _signed_in(url: str) -> str:
    """An oversight member's web session (the cookie's secret), as the sign-in link gives one."""
    from core.settings import Settings
    from services.web_auth import open_session

    async def issue(session: AsyncSession, person: Person) -> str:
        settings = Settings(database_url=url)
        return (await open_session(session, person, settings, user_agent="bench"))[1]

    return await reader_secret(url, issue)


async def _sizes(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            activities = await session.scalar(select(func.count()).select_from(Activity))
            transitions = await session.scalar(select(func.count()).select_from(Transition))
            return int(activities or 0), int(transitions or 0)
    finally:
        await engine.dispose()


async def run(url: str, n: int, warmup: int, section: Section, label: str) -> None:
    from playwright.async_api import async_playwright

    from api.deps import SESSION_COOKIE
    from tests.browser_support import CHROMIUM_ARGS, SYSTEM_CHROMIUM

    activities, transitions = await _sizes(url)
    secret = await _signed_in(url)
    database = url.rsplit("/", 1)[1] if url.startswith("postgresql") else None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    note = f"{label}: {activities:,} activities, {transitions:,} transitions; load average {load} at start"
    print(note, flush=True)
    with tempfile.TemporaryDirectory() as data_dir, Children() as children:
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SYNERGIES_DATA_DIR=data_dir,
            SYNERGIES_PUBLIC_URL=base,
            SYNERGIES_LOG_LEVEL="WARNING",
        )
        server = children.start("pages-api", uvicorn_argv("api.main:app", port), env)
        await wait_port(port, 120)  # uvicorn listens once the app has started
        async with httpx.AsyncClient(base_url=base) as http:
            (await http.get("/health")).raise_for_status()
        assert server.process is not None
        pid = server.process.pid

        async with async_playwright() as playwright:
            executable = str(SYSTEM_CHROMIUM) if os.access(SYSTEM_CHROMIUM, os.X_OK) else None
            browser = await playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, headless=True
            )
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            await context.add_cookies([{"name": SESSION_COOKIE, "value": secret, "url": base}])
            page = await context.new_page()
            try:
                for name, path in PAGES.items():
                    await _measure(page, base + path, name, n, warmup, pid, database, section, label)
            finally:
                await context.close()
                await browser.close()
    after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section.notes.append(f"{note}, {after} at the end")


async def _measure(
    page: Any,
    url: str,
    name: str,
    n: int,
    warmup: int,
    pid: int,
    database: str | None,
    section: Section,
    label: str,
) -> None:
    samples: list[dict[str, Any]] = []
    for k in range(warmup + n):
        await page.goto("about:blank")
        c0 = _cpu_seconds(pid) + backend_cpu(database)
        await page.goto(url, wait_until="load")
        await page.wait_for_function(LOADED)
        measured = await page.evaluate(MEASURE)
        measured["cpu"] = (_cpu_seconds(pid) + backend_cpu(database) - c0) * 1000
        if measured["status"] != 200:
            raise RuntimeError(f"{url}: HTTP {measured['status']}")
        if k >= warmup:
            samples.append(measured)

    def timing(key: str) -> Timing:
        return Timing([s[key] for s in samples], 0.0)

    server, dcl, loaded, cpu = timing("server"), timing("dcl"), timing("load"), timing("cpu")
    rows = max(s["rows"] for s in samples)
    print(
        f"{label} {name}: server p50 {server.p50:.0f} p95 {server.p95:.0f} ms; DOMContentLoaded p50 "
        f"{dcl.p50:.0f} p95 {dcl.p95:.0f} ms; load p50 {loaded.p50:.0f} p95 {loaded.p95:.0f} ms; "
        f"server CPU p50 {cpu.p50:.0f} p95 {cpu.p95:.0f} ms; largest table {rows} rows, "
        f"{samples[-1]['elements']} elements",
        flush=True,
    )
    prefix = f"{label} page {name}"
    section.add(f"{prefix} server p50", server.p50, "ms")
    section.add(f"{prefix} server p95", server.p95, "ms")
    section.add(f"{prefix} DOMContentLoaded p95", dcl.p95, "ms")
    section.add(f"{prefix} load p50", loaded.p50, "ms")
    met = loaded.p95 < LOAD_TARGET_MS
    section.add(f"{prefix} load p95", loaded.p95, "ms", target=f"< {LOAD_TARGET_MS} ms", met=met)
    section.add(f"{prefix} server CPU p95", cpu.p95, "ms")
    paged = rows <= MAX_TABLE_ROWS
    section.add(f"{prefix} largest table rows", rows, "rows", target=f"<= {MAX_TABLE_ROWS}", met=paged)


def main(urls: list[str] | None = None, n: int = 10, warmup: int = 2) -> Section:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument("-n", type=int, default=n)
    parser.add_argument("--warmup", type=int, default=warmup)
    args = parser.parse_args([] if urls is not None else None)
    section = Section("Oversight pages in Chromium")
    started = time.time()
    for url in urls or args.url:
        label = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        asyncio.run(run(url, args.n, args.warmup, section, label))
    took = time.time() - started
    section.notes.append(f"n = {args.n} loads per page after {args.warmup} warm-ups; {took:.0f} s in all")
    save(section, "pages")
    return section


if __name__ == "__main__":
    main()
