"""core.supervisor with small real child processes: restarts with backoff, stop order, SIGKILL past
the deadline. `synergies up` with its real children is tested in test_runner_supervision.py."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest

from core.supervisor import Backoff, Child, Supervisor

pytestmark = pytest.mark.timeout(60)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def sleeper(journal: Path, name: str, *, ignore_sigterm: bool = False) -> list[str]:
    """Sleeps; on SIGTERM writes its name to `journal` and exits 0 (or ignores it)."""
    handler = (
        "signal.SIG_IGN"
        if ignore_sigterm
        else f"lambda *_: (open({str(journal)!r}, 'a').write({name!r} + '\\n'), sys.exit(0))"
    )
    return python(
        f"import signal, sys, time\nsignal.signal(signal.SIGTERM, {handler})\n"
        f"open({str(journal)!r} + '.ready', 'a').write({name!r} + '\\n')\ntime.sleep(60)"
    )


def wait_ready(journal: Path, count: int) -> None:
    """Until `count` children have installed their SIGTERM handler."""
    ready = Path(f"{journal}.ready")
    deadline = time.monotonic() + 20
    while not ready.exists() or len(ready.read_text().splitlines()) < count:
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.05)


def check_until(supervisor: Supervisor, condition, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        assert supervisor.check() is None
        time.sleep(0.02)


def test_a_crashed_child_is_restarted_with_doubling_backoff_and_one_line_per_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.supervisor")
    starts = tmp_path / "starts"
    crasher = python(f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)")
    with Supervisor(Backoff(first=0.2, cap=0.8, stable=60)) as supervisor:
        child = supervisor.start("crasher", crasher, restart=True)
        check_until(supervisor, lambda: child.restarts == 4 and child.restart_at is not None)

    restarts = [r.getMessage() for r in caplog.records if "exited with" in r.getMessage()]
    assert len(restarts) == 4
    assert all(line.startswith("crasher exited with code 3 after ") for line in restarts)
    assert [line.rsplit("; ", 1)[1] for line in restarts] == [
        "restart 1 in 0.2 s",
        "restart 2 in 0.4 s",
        "restart 3 in 0.8 s",
        "restart 4 in 0.8 s",  # capped
    ]
    assert starts.read_text() == "xxxx"  # the first start and three restarts; the fourth was due


def test_a_child_that_may_not_be_restarted_is_reported_and_left_alone(tmp_path: Path) -> None:
    with Supervisor() as supervisor:
        supervisor.start("steady", python("import time; time.sleep(60)"), restart=True)
        foreground = supervisor.start("foreground", python("raise SystemExit(2)"))
        deadline = time.monotonic() + 10
        while (exited := supervisor.check()) is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert exited is foreground and exited.returncode == 2
        assert exited.restarts == 0 and supervisor.children[0].alive


def test_stop_goes_group_by_group_in_reverse_start_order_and_kills_what_ignores_sigterm(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "stopped"
    supervisor = Supervisor()
    temporal = supervisor.start("temporal", sleeper(journal, "temporal"))
    workers = [
        supervisor.start(f"worker-{n}", sleeper(journal, f"worker-{n}"), group="workers") for n in (1, 2)
    ]
    stubborn = supervisor.start("api", sleeper(journal, "api", ignore_sigterm=True), stop_within=1.0)
    wait_ready(journal, 4)

    began = time.monotonic()
    supervisor.stop()
    took = time.monotonic() - began

    assert stubborn.returncode == -9
    assert 1.0 <= took < 5
    order = journal.read_text().splitlines()
    assert order[-1] == "temporal" and sorted(order[:2]) == ["worker-1", "worker-2"], order
    assert [w.returncode for w in workers] == [0, 0] and temporal.returncode == 0
    assert not any(child.alive for child in supervisor.children)


def test_a_child_log_holds_each_start_and_its_output(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("left over from an earlier run\n")
    child = Child("echo", python("print('hello', flush=True)"), log=log).start()
    assert child.process is not None and child.process.wait(10) == 0
    child.start()
    assert child.process.wait(10) == 0
    output = child.output()
    assert "left over" not in output
    assert output.count("=== start ") == 2 and output.count("\nhello\n") == 2
