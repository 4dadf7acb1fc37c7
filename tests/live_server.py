"""A real uvicorn server in a subprocess, for streaming (SSE) and browser tests.

ASGITransport buffers responses, so server-sent events and a browser need a real socket. The
server reads its settings from the environment like production (`api.main:create_app`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.supervisor import Child, free_port

UVICORN = Path(sys.executable).parent / "uvicorn"


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
