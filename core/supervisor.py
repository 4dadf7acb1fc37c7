"""Child processes of a system run on one machine: started in order, a crashed one restarted with
backoff, all stopped group by group in reverse order, SIGTERM first and SIGKILL only past a deadline.

One implementation for `synergies up`, the bench and the process tests, so that every one of them
stops its children the same careful way (workers before the Temporal server they poll) and never
leaves one running.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, for a child to serve on (or for a
    client to find nothing at)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def describe_exit(code: int | None) -> str:
    """`code 1`, or `code -9 (SIGKILL)` for a child ended by a signal."""
    if code is not None and code < 0:
        try:
            return f"code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"code {code}"


@dataclass
class Backoff:
    """Restart delays: `first`, doubled on each crash in a row up to `cap`; a child that ran
    `stable` seconds before crashing starts the count again."""

    first: float = 0.5
    cap: float = 30.0
    stable: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        return min(self.cap, self.first * 2 ** max(0, crashes_in_a_row - 1))


@dataclass
class Child:
    """One child process. Its output goes to `log` (truncated at the first start, appended on
    restarts) or, without a log, to the parent's own stdout and stderr."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    log: Path | None = None
    restart: bool = False  # restarted with backoff when it exits without being asked to
    group: str = ""  # children of one group are stopped together (the workers); default: name
    stop_within: float = 15.0  # seconds between SIGTERM and SIGKILL
    cwd: Path = ROOT
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    crashes_in_a_row: int = 0
    started_at: float = 0.0
    restart_at: float | None = None  # a crashed child waiting out its backoff

    def __post_init__(self) -> None:
        self.group = self.group or self.name

    def start(self) -> Child:
        """Start (or start again, same command); in its own session, so that a Ctrl-C at the
        terminal reaches only the supervisor, which then stops the children in order."""
        sink = None
        if self.log is not None:
            sink = self.log.open("ab" if self.process is not None else "wb")
            sink.write(f"\n=== start {time.strftime('%H:%M:%S')}: {' '.join(self.argv)}\n".encode())
            sink.flush()
        try:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=sink,
                stderr=subprocess.STDOUT if sink else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if sink is not None:
                sink.close()
        self.started_at = time.monotonic()
        self.restart_at = None
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None and self.log.exists() else ""

    def check_alive(self) -> None:
        if not self.alive:
            raise AssertionError(
                f"{self.name} exited ({describe_exit(self.returncode)}):\n{self.output()[-6000:]}"
            )

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed, nothing said goodbye."""
        if self.process is not None and self.alive:
            self.process.kill()
            self.process.wait(10)

    def terminate(self) -> None:
        if self.process is not None and self.alive:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, within: float | None = None) -> int | None:
        """SIGTERM as a process manager would, SIGKILL after `within` s; returns the exit code."""
        self.restart_at = None
        self.terminate()
        return self.wait_or_kill(time.monotonic() + (self.stop_within if within is None else within))

    def wait_or_kill(self, deadline: float) -> int | None:
        if self.process is None:
            return None
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within its time; killing it", self.name)
            self.process.kill()
            self.process.wait(10)
        return self.process.returncode


@dataclass
class Supervisor:
    """Children in start order. `check()` restarts the crashed ones that may be restarted and
    reports the first that may not; `stop()` stops them all, last started group first."""

    backoff: Backoff = field(default_factory=Backoff)
    children: list[Child] = field(default_factory=list)

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
        return self.add(
            Child(name, argv, env, log=log, restart=restart, group=group, stop_within=stop_within)
        )

    def add(self, child: Child) -> Child:
        self.children.append(child)  # first, so that stop() finds it whatever happens next
        child.start()
        logger.info("started %s (pid %d)", child.name, child.pid)
        return child

    def check(self) -> Child | None:
        """Restart each crashed child whose backoff is over; return a child that exited and may
        not be restarted (the caller decides what that means), else None."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                    logger.info("started %s again (pid %d)", child.name, child.pid)
                continue
            code = child.returncode
            if code is None:
                continue
            if not child.restart:
                return child
            ran = now - child.started_at
            child.crashes_in_a_row = 1 if ran >= self.backoff.stable else child.crashes_in_a_row + 1
            child.restarts += 1
            delay = self.backoff.delay(child.crashes_in_a_row)
            child.restart_at = now + delay
            logger.warning(
                "%s exited with %s after %.1f s; restart %d in %.1f s",
                child.name,
                describe_exit(code),
                ran,
                child.restarts,
                delay,
            )
        return None

    def groups(self) -> list[list[Child]]:
        """Children grouped by `group`, in the order each group first started."""
        grouped: dict[str, list[Child]] = {}
        for child in self.children:
            grouped.setdefault(child.group, []).append(child)
        return list(grouped.values())

    def stop(self) -> None:
        """Stop every child, the last started group first (the API, then the workers, then the
        Temporal server they poll): SIGTERM to a whole group, SIGKILL to whatever outlives its
        `stop_within`. Nothing is restarted afterwards."""
        for group in reversed(self.groups()):
            begun = time.monotonic()
            running = [child for child in group if child.alive]
            for child in group:
                child.restart_at = None
            for child in running:
                child.terminate()
            for child in running:
                code = child.wait_or_kill(begun + child.stop_within)
                logger.info(
                    "stopped %s (%s) in %.1f s", child.name, describe_exit(code), time.monotonic() - begun
                )

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
