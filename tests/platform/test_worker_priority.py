"""A worker running only the notifications yields the CPU to moves: a real `synergies worker`
process, its niceness (and its threads') read from /proc."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from core.supervisor import free_port
from tests.process_support import SYNERGIES

WAITING = "does not answer yet"  # logged once the worker is up and waits for Temporal


def niceness_of_threads(pid: int) -> set[int]:
    """The niceness of every thread of `pid` (field 19 of /proc/<pid>/task/<tid>/stat)."""
    values = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        values.add(int((task / "stat").read_text().rsplit(")", 1)[1].split()[16]))
    return values


@pytest.mark.parametrize(
    ("only", "lowered_by"),
    [(["--only", "notifications"], 7), (["--only", "workflows"], 0), ([], 0)],
    ids=["notifications", "workflows", "both"],
)
def test_only_a_notifications_worker_lowers_its_cpu_priority(
    tmp_path: Path, only: list[str], lowered_by: int
) -> None:
    log = tmp_path / "worker.log"
    env = os.environ | {
        # Nothing listens there: the worker starts, then waits for its Temporal server.
        "SYNERGIES_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "SYNERGIES_NOTIFICATIONS_WORKER_NICE": "7",
    }
    own = os.getpriority(os.PRIO_PROCESS, 0)
    with log.open("w") as out:
        process = subprocess.Popen([str(SYNERGIES), "worker", *only], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while WAITING not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert niceness_of_threads(process.pid) == {min(own + lowered_by, 19)}
    finally:
        process.terminate()
        process.wait(timeout=30)
