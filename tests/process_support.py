"""Real OS processes for the tests, all children of `core.supervisor` (the supervisor `synergies up`
uses), on free ports, configured through the environment exactly like production:

- `live_server()`: one API server (uvicorn `api.main:create_app`), for server-sent events and the
  browser tests (ASGITransport buffers responses: they need a real socket).
- `cluster()`: for fault and scale tests, a Temporal dev server on a file database, worker
  processes (`synergies worker`) and API processes (uvicorn `api.main:app`), against one database.
  `Cluster` starts them, waits until each is ready (with timeouts), stops them cleanly (SIGTERM, in
  order) or kills them (SIGKILL), and keeps every process's output in a log file under the test's
  tmp_path; `cluster()` always stops every process it started and prints the logs (pytest shows
  them when the test fails).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import Client

from core.supervisor import Child, Supervisor, free_port
from workflows import search
from workflows.client import DATA_CONVERTER

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
SYNERGIES = BIN / "synergies"
UVICORN = BIN / "uvicorn"
NAMESPACE = "default"


# --- one API server -----------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    child: Child

    def output(self) -> str:
        return self.child.output()

    async def stop(self, within: float = 15.0) -> int:
        """SIGTERM, as a process manager would; returns the exit code."""
        code = await asyncio.to_thread(self.child.stop, within)
        if code == -signal.SIGKILL:
            raise AssertionError(f"the server did not stop within {within} s:\n{self.output()}")
        assert code is not None
        return code


@asynccontextmanager
async def live_server(
    database_url: str, tmp_path: Path, extra_env: dict[str, str] | None = None
) -> AsyncIterator[LiveServer]:
    """`extra_env`: more settings (SYNERGIES_*), e.g. the test's Temporal server and SMTP catcher."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SYNERGIES_DATA_DIR": str(tmp_path),
        "SYNERGIES_PUBLIC_URL": url,
        **(extra_env or {}),
    }
    argv = [
        str(UVICORN),
        "api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
    ]
    server = LiveServer(url, Child("uvicorn", argv, env, log=tmp_path / f"uvicorn-{port}.log").start())
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            for _ in range(300):
                if not server.child.alive:
                    raise AssertionError(f"the server exited at start:\n{server.output()}")
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the server did not start in 30 s:\n{server.output()}")
        yield server
    finally:
        if server.child.alive:
            await server.stop()


# --- a cluster ----------------------------------------------------------------------------------


@dataclass
class Proc(Child):
    """One child process (`core.supervisor.Child`), with the URL it serves for API processes."""

    url: str | None = None


@dataclass
class Cluster:
    """Temporal + workers + APIs for one test; every port free, every log under `directory`."""

    directory: Path
    database_url: str
    smtp_port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    task_queue: str = field(default_factory=lambda: f"proc-{uuid.uuid4().hex[:8]}")
    workflow_id_prefix: str = field(default_factory=lambda: f"activity-{uuid.uuid4().hex[:8]}-")
    temporal_port: int = field(default_factory=free_port)
    temporal_ui_port: int = field(default_factory=free_port)
    temporal: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    apis: list[Proc] = field(default_factory=list)
    supervisor: Supervisor = field(default_factory=Supervisor)
    _client: Client | None = None

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def temporal_db(self) -> Path:
        return self.directory / "temporal.db"

    def env(self, **extra: str) -> dict[str, str]:
        values = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SYNERGIES_DATA_DIR": str(self.directory),
            "SYNERGIES_TEMPORAL_ADDRESS": self.temporal_address,
            "SYNERGIES_TEMPORAL_NAMESPACE": NAMESPACE,
            "SYNERGIES_TEMPORAL_TASK_QUEUE": self.task_queue,
            "SYNERGIES_TEMPORAL_UI_PORT": str(self.temporal_ui_port),
            "SYNERGIES_WORKFLOW_ID_PREFIX": self.workflow_id_prefix,
            "SYNERGIES_SMTP_HOST": "127.0.0.1",
            "SYNERGIES_SMTP_PORT": str(self.smtp_port),
            "SYNERGIES_LOG_LEVEL": "WARNING",
            "SYNERGIES_OTEL_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
        values.update(self.extra_env)
        values.update(extra)
        return values

    def workflow_id(self, activity_id: int) -> str:
        return f"{self.workflow_id_prefix}{activity_id}"

    # --- Temporal ------------------------------------------------------------------------------

    def temporal_argv(self) -> list[str]:
        return [
            str(TEMPORAL_CLI),
            "server",
            "start-dev",
            "--db-filename",
            str(self.temporal_db),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.temporal_ui_port),
            "--namespace",
            NAMESPACE,
            "--log-level",
            "error",
            *search.cli_flags(),
        ]

    async def start_temporal(self, within: float = 30.0) -> Client:
        """Start (or restart, same file and port) the dev server and wait until it answers."""
        if self.temporal is None:
            self.temporal = Proc(
                "temporal", self.temporal_argv(), self.env(), self.directory / "temporal.log"
            )
            self.supervisor.add(self.temporal)
        else:
            self.temporal.start()
        self._client = await self._connect(within)
        return self._client

    async def _connect(self, within: float) -> Client:
        assert self.temporal is not None
        deadline = time.monotonic() + within
        while True:
            self.temporal.check_alive()
            try:
                client = await Client.connect(
                    self.temporal_address, namespace=NAMESPACE, data_converter=DATA_CONVERTER
                )
                await client.workflow_service.get_system_info(GetSystemInfoRequest())
                return client
            except Exception:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"Temporal did not answer within {within} s:\n{self.temporal.output()}"
                    ) from None
                await asyncio.sleep(0.2)

    @property
    def client(self) -> Client:
        assert self._client is not None, "start_temporal() first"
        return self._client

    def stop_temporal(self) -> int | None:
        assert self.temporal is not None
        return self.temporal.stop()

    # --- workers -------------------------------------------------------------------------------

    async def start_worker(self, within: float = 45.0) -> Proc:
        number = len(self.workers) + 1
        worker = Proc(
            f"worker-{number}",
            [str(SYNERGIES), "worker"],
            self.env(),
            self.directory / f"worker-{number}.log",
            group="workers",
        )
        self.supervisor.add(worker)
        self.workers.append(worker)
        await self.wait_worker_polling(worker, within)
        return worker

    async def pollers(self) -> set[str]:
        response = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=NAMESPACE,
                task_queue=TaskQueue(name=self.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return {poller.identity for poller in response.pollers}

    async def wait_worker_polling(self, worker: Proc, within: float = 45.0) -> None:
        """Ready = the server lists a poller whose identity is `<pid>@host`."""
        deadline = time.monotonic() + within
        while True:
            worker.check_alive()
            if any(identity.startswith(f"{worker.pid}@") for identity in await self.pollers()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{worker.name} did not poll within {within} s:\n{worker.output()}")
            await asyncio.sleep(0.2)

    # --- APIs ----------------------------------------------------------------------------------

    async def start_api(self, within: float = 45.0, **extra_env: str) -> Proc:
        """`extra_env`: settings of this API process only (SYNERGIES_*), beside the cluster's."""
        number = len(self.apis) + 1
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        api = Proc(
            f"api-{number}",
            [
                str(UVICORN),
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
            ],
            self.env(SYNERGIES_PUBLIC_URL=url, **extra_env),
            self.directory / f"api-{number}.log",
            group="apis",
            url=url,
        )
        self.supervisor.add(api)
        self.apis.append(api)
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            while True:
                api.check_alive()
                try:
                    if (await http.get("/health")).status_code == 200:
                        return api
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{api.name} not healthy within {within} s:\n{api.output()}")
                await asyncio.sleep(0.1)

    # --- all -----------------------------------------------------------------------------------

    def processes(self) -> list[Proc]:
        return [*self.apis, *self.workers, *([self.temporal] if self.temporal else [])]

    def stop_all(self) -> None:
        """APIs, then workers, then Temporal: SIGTERM each group, SIGKILL whatever does not stop."""
        self.supervisor.stop()

    def logs(self) -> str:
        parts = []
        for proc in self.processes():
            text = proc.output()
            parts.append(f"----- {proc.name} ({proc.log}) -----\n{text[-8000:]}")
        return "\n".join(parts)


@asynccontextmanager
async def cluster(
    directory: Path, database_url: str, smtp_port: int, **extra_env: str
) -> AsyncIterator[Cluster]:
    """A Cluster with Temporal started; every process stopped on the way out, logs printed."""
    os.makedirs(directory, exist_ok=True)
    running = Cluster(directory, database_url, smtp_port, extra_env=dict(extra_env))
    try:
        await running.start_temporal()
        yield running
    finally:
        try:
            running.stop_all()
        finally:
            # Captured by pytest: shown only when the test fails.
            print(running.logs())


async def gather_limited(limit: int, coroutines: list[Any]) -> list[Any]:
    """asyncio.gather with at most `limit` running at once."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines))


async def poll(
    predicate: Any, seconds: float, every: float = 1.0, what: str = "condition", why: list[str] | None = None
) -> None:
    """Like servers_support.wait_for, but gentle on a loaded machine (heavy predicates)."""
    deadline = time.monotonic() + seconds
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {seconds:.0f} s {why or ''}")
        await asyncio.sleep(every)
