"""Shared bench helpers: machine facts, timing statistics, child processes (core.supervisor), databases."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.supervisor import Child, Supervisor

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("SYNERGIES_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- machine -------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import temporalio

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "ram": ram,
        "cpu": cpu,
        "python": platform.python_version(),
        "temporalio": temporalio.__version__,
        "load_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# --- results -------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure, with its target when there is one."""

    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        print(
            f"  {figure.name}: {figure.value:.4g} {figure.unit}"
            + (f"  target {figure.target}: {'met' if figure.met else 'MISSED'}" if figure.target else ""),
            flush=True,
        )
        return figure


def save(section: Section, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "title": section.title,
                "figures": [asdict(f) for f in section.figures],
                "notes": section.notes,
                "machine": machine(),
                "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            },
            indent=2,
        )
    )
    return path


@dataclass
class Timing:
    latencies: list[float]  # seconds
    wall: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        values = sorted(self.latencies)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]

    @property
    def p50(self) -> float:
        return self.pct(0.50)

    @property
    def p95(self) -> float:
        return self.pct(0.95)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies) if self.latencies else float("nan")


async def timed_sequential(call: Callable[[int], Awaitable[Any]], n: int) -> Timing:
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - t0)
    return Timing(latencies, time.perf_counter() - start)


async def timed_concurrent(call: Callable[[int, int], Awaitable[Any]], lanes: int, per_lane: int) -> Timing:
    """`lanes` concurrent loops, each `per_lane` sequential calls `call(lane, i)`."""
    latencies: list[float] = []

    async def lane(k: int) -> None:
        for i in range(per_lane):
            t0 = time.perf_counter()
            await call(k, i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(lane(k) for k in range(lanes)))
    return Timing(latencies, time.perf_counter() - start)


# --- processes -----------------------------------------------------------------------------------


class Children(Supervisor):
    """The bench's child processes (`core.supervisor`), each one's output in bench/results/<name>.log;
    stopped (SIGTERM, then SIGKILL) in reverse order on leaving the `with` block."""

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        log: Path | None = None,
        restart: bool = False,
        group: str = "",
        stop_within: float = 15.0,
    ) -> Child:
        RESULTS.mkdir(parents=True, exist_ok=True)
        return super().start(
            name,
            argv,
            env,
            log=log or RESULTS / f"{name}.log",
            restart=restart,
            group=group,
            stop_within=stop_within,
        )


def dev_server_argv(port: int, ui_port: int) -> list[str]:
    from workflows import search

    return [
        str(BIN / "temporal"),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "error",
        "--headless",
        *search.cli_flags(),
    ]


def uvicorn_argv(app: str, port: int) -> list[str]:
    """One uvicorn process serving `app` on 127.0.0.1:`port`, quiet."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def smtp_sink_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]


async def wait_port(port: int, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (a deadline, not a cancel)
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- databases -----------------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def create_pg_database(name: str | None = None) -> str:
    import asyncpg

    name = name or f"synergies_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


async def drop_pg_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def fresh_database(backend: str, tag: str) -> str:
    """A new, migrated database: a file under bench/results/db/ or a new PostgreSQL database."""
    from cli.runner import migrate

    if backend == "sqlite":
        directory = RESULTS / "db"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = sqlite_url(path)
    else:
        url = asyncio.run(create_pg_database(f"synergies_bench_{tag}"))
    migrate(url)
    return url
