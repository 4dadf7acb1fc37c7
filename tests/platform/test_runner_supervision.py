"""`synergies up` survives its children: real processes (`synergies up` on a temporary directory
with SQLite, its own Temporal dev server, mail catcher, two workers and the API, every port free).

- each child SIGKILLed once in turn: the supervisor restarts it (one log line with the exit code)
  and the system answers a move again; the API is the foreground, so its death stops `up`;
- SIGTERM or SIGINT: API, then workers, then Temporal stopped within 10 s, no traceback, no
  warnings from workers losing their server, no child left running.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.supervisor import Child, free_port

pytestmark = pytest.mark.timeout(300)

SYNERGIES = Path(sys.executable).parent / "synergies"
STARTED = re.compile(r"^synergies up: started (\S+)(?: again)? \(pid (\d+)\)$", re.MULTILINE)
READY = "Press Ctrl-C to stop."
STOP_DEADLINE = 10.0


@dataclass
class RunningUp:
    child: Child
    url: str
    token: str

    def output(self) -> str:
        return self.child.output()

    def pids(self) -> dict[str, int]:
        """The latest pid of each child, from the supervisor's start lines."""
        return {name: int(pid) for name, pid in STARTED.findall(self.output())}

    def all_pids(self) -> set[int]:
        return {int(pid) for _, pid in STARTED.findall(self.output())}

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited child not yet reaped is no longer running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@asynccontextmanager
async def synergies_up(directory: Path) -> AsyncIterator[RunningUp]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'synergies.db'}",
        "SYNERGIES_DATA_DIR": str(directory),
        "SYNERGIES_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "SYNERGIES_TEMPORAL_UI_PORT": str(free_port()),
        "SYNERGIES_TEMPORAL_TASK_QUEUE": f"up-{uuid.uuid4().hex[:8]}",
        "SYNERGIES_SMTP_HOST": "127.0.0.1",
        "SYNERGIES_SMTP_PORT": str(free_port()),
        "SYNERGIES_OTEL_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    child = Child("up", [str(SYNERGIES), "up", "--port", str(port)], env, log=directory / "up.log").start()
    up = RunningUp(child, f"http://127.0.0.1:{port}", "")
    try:
        deadline = time.monotonic() + 120
        while READY not in up.output():
            child.check_alive()
            assert time.monotonic() < deadline, f"synergies up not ready:\n{up.output()}"
            await asyncio.sleep(0.3)
        token = re.search(r"Admin token: (\S+)", up.output())
        assert token is not None
        up.token = token.group(1)
        yield up
    finally:
        child.stop(within=15)
        for pid in up.all_pids():  # never leave a child behind, even when the test failed
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        print(up.output()[-20000:])  # shown by pytest when the test fails


async def activity_in_task_team(up: RunningUp) -> int:
    async with up.http() as http:
        response = await http.get("/activities", params={"stage": "task_team"})
        assert response.status_code == 200, response.text
        body = response.json()
        items = body["items"] if isinstance(body, dict) else body
        assert items, "the demo data has activities in task_team"
        return int(items[0]["id"])


async def move_answers(up: RunningUp, activity_id: int, within: float = 120.0) -> httpx.Response:
    """One move back or forth between task_team and thematic_group, retried (same Idempotency-Key,
    same body) while the system is restarting a child; returns the first 200."""
    deadline = time.monotonic() + within
    seen: list[str] = []
    async with up.http() as http:
        while time.monotonic() < deadline:
            try:
                activity = (await http.get(f"/activities/{activity_id}")).raise_for_status().json()
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                seen.append(type(exc).__name__)
                await asyncio.sleep(1)
                continue
            to = "thematic_group" if activity["stage"] == "task_team" else "task_team"
            body = {"to": to, "expected_version": activity["version"], "reason": "supervision test"}
            key = uuid.uuid4().hex
            while time.monotonic() < deadline:
                try:
                    response = await http.post(
                        f"/activities/{activity_id}/transitions", json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError as exc:
                    seen.append(type(exc).__name__)
                else:
                    seen.append(str(response.status_code))
                    if response.status_code == 200:
                        return response
                    if response.status_code < 500:
                        break  # read the activity again: the move may have been recorded
                await asyncio.sleep(1)
    raise AssertionError(f"no move answered 200 within {within} s; answers: {seen}")


async def wait_restarted(up: RunningUp, name: str, old_pid: int, within: float = 30.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pid = up.pids().get(name)
        if pid is not None and pid != old_pid and running(pid):
            return pid
        up.child.check_alive()
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} was not restarted within {within} s:\n{up.output()[-6000:]}")


def mails_in(directory: Path) -> int:
    """Mails the catcher keeps (a Maildir under the data directory)."""
    new = directory / "mailbox" / "new"
    return len(list(new.iterdir())) if new.exists() else 0


async def wait_for_more_mail(directory: Path, than: int, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while mails_in(directory) <= than:
        assert time.monotonic() < deadline, f"no new mail in {within} s (still {than})"
        await asyncio.sleep(0.5)


async def test_each_child_killed_once_is_restarted_and_moves_still_answer(tmp_path: Path) -> None:
    async with synergies_up(tmp_path) as up:
        activity_id = await activity_in_task_team(up)
        assert (await move_answers(up, activity_id)).status_code == 200

        for name in ("mail", "worker-workflows", "worker-notifications", "temporal"):
            old_pid = up.pids()[name]
            mails = mails_in(tmp_path)
            os.kill(old_pid, signal.SIGKILL)
            await wait_restarted(up, name, old_pid)
            assert re.search(rf"^synergies up: {name} exited with code -9 \(SIGKILL\)", up.output(), re.M)
            moved = await move_answers(up, activity_id)
            assert moved.json()["transition"]["reason"] == "supervision test"
            # ... and its notifications still reach the (restarted) mail catcher.
            await wait_for_more_mail(tmp_path, mails)

        # The API is the foreground: its death stops the rest, in order, and `up` fails.
        children = up.all_pids()
        os.kill(up.pids()["api"], signal.SIGKILL)
        assert up.child.process is not None
        assert up.child.process.wait(STOP_DEADLINE + 5) == 1
        assert "synergies up: api exited with code -9 (SIGKILL); stopping the rest" in up.output()
        assert [pid for pid in children if running(pid)] == []


def lines_after(output: str, marker: str) -> list[str]:
    return output[output.index(marker) :].splitlines()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_stops_api_workers_then_temporal_within_10_s(
    tmp_path: Path, signum: signal.Signals
) -> None:
    async with synergies_up(tmp_path) as up:
        activity_id = await activity_in_task_team(up)
        assert (await move_answers(up, activity_id)).status_code == 200
        children = up.all_pids()
        assert up.child.process is not None

        began = time.monotonic()
        os.kill(up.child.pid, signum)
        code = up.child.process.wait(STOP_DEADLINE + 5)
        took = time.monotonic() - began

        output = up.output()
        assert code == 0, output[-6000:]
        assert took < STOP_DEADLINE, f"stopped in {took:.1f} s"
        assert "Traceback" not in output
        assert [pid for pid in children if running(pid)] == []
        stopped = re.findall(r"^synergies up: stopped (\S+) ", output, re.M)
        assert stopped[:4] == ["api", "worker-workflows", "worker-notifications", "temporal"], stopped
        # Workers shut down before their server: no worker or API line complains about a lost
        # connection (the Temporal server's own `level=...` lines are its business).
        complaints = [
            line
            for line in lines_after(output, "synergies up: stopping")
            if re.search(r"\[(warning|error|critical)\s*\]|\bWARN\b|retry|retrying", line, re.I)
        ]
        assert complaints == []
