"""Process-level fault and scale tests: real OS processes (Temporal dev server on a file database,
`synergies worker`, uvicorn `api.main:app`), a real SMTP server and a real database.

- worker SIGKILLed midway through 400 moves -> nothing lost, nothing doubled, every mail once;
- Temporal server restarted -> a pending reminder timer still fires at its time;
- two APIs + two workers -> every move succeeds, conflicting moves: one winner, reminders and
  notifications exactly once.

The multi-process tests run on PostgreSQL only (parametrized explicitly: `[postgresql]` in the
test id, whatever SYNERGIES_TEST_BACKENDS says): several processes writing one SQLite file is not a
supported deployment. The Temporal restart runs on both backends (`synergies up` uses SQLite).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.stages import Role
from models import Activity, Delivery, DeliveryStatus, ReminderEvent, Transition
from models.enums import Channel
from tests.process_support import Cluster, cluster, gather_limited, poll
from tests.servers_support import SMTPServer, wait_for
from workflows.messages import LifecycleState

pytestmark = pytest.mark.timeout(240)

POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


# --- helpers ------------------------------------------------------------------------------------


class Api:
    """Talks to one or more API processes; counts the retries a real client would make."""

    def __init__(self, urls: list[str], headers: dict[str, str]) -> None:
        self.urls = urls
        self.headers = headers
        self.http = httpx.AsyncClient(timeout=60)
        self.retries = 0
        self._next = 0
        self.inflight: dict[str, float] = {}
        self.outcomes: collections.Counter[str] = collections.Counter()

    def url(self, which: int | None = None) -> str:
        if which is None:
            which, self._next = self._next, self._next + 1
        return self.urls[which % len(self.urls)]

    async def create(self, people: Any, which: int | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "title": "Regional synergies workshop",
            "provisions": ["BRS/SYN/I.A.4"],
            "lead_id": people[Role.TASK_TEAM_LEAD].id,
        } | fields
        response = await self.http.post(f"{self.url(which)}/activities", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return response.json()

    async def move(
        self,
        activity_id: int,
        version: int,
        to: str,
        *,
        key: str | None = None,
        reason: str | None = None,
        which: int | None = None,
        within: float = 90.0,
    ) -> httpx.Response:
        """One move; with `key`, retried (same Idempotency-Key) on 5xx, 429 and lost connections."""
        body = {"to": to, "expected_version": version, "reason": reason}
        headers = self.headers | ({"Idempotency-Key": key} if key else {})
        deadline = time.monotonic() + within
        url = self.url(which)
        while True:
            try:
                self.inflight[f"{activity_id}:{to}"] = time.monotonic()
                try:
                    response = await self.http.post(
                        f"{url}/activities/{activity_id}/transitions", json=body, headers=headers
                    )
                finally:
                    self.inflight.pop(f"{activity_id}:{to}", None)
                self.outcomes[str(response.status_code)] += 1
                if key is None or response.status_code not in (429, 500, 502, 503, 504):
                    return response
            except httpx.TransportError as exc:
                self.outcomes[type(exc).__name__] += 1
                if key is None:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"move {key} of activity {activity_id} never succeeded")
            self.retries += 1
            await asyncio.sleep(0.3)

    async def close(self) -> None:
        await self.http.aclose()


DIAGNOSIS: list[str] = []


def mails_by_delivery(smtp: SMTPServer) -> collections.Counter[str]:
    with smtp._lock:
        mails = list(smtp.mails)
    counts: collections.Counter[str] = collections.Counter()
    for mail in mails:
        # A long header value is folded: the parsed value keeps the fold's leading space.
        key = str(mail.message["X-Synergies-Delivery"]).strip()
        # The same Message-ID for the same delivery, whatever the mail domain (the public URL's host).
        expected_id = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@"
        assert str(mail.message["Message-ID"]).strip().startswith(expected_id), key
        counts[key] += 1
    return counts


async def email_delivery_keys(db: Any, prefix: str) -> list[str]:
    async with db() as session:
        return list(
            await session.scalars(
                select(Delivery.key).where(Delivery.channel == Channel.EMAIL, Delivery.key.startswith(prefix))
            )
        )


async def all_delivered(db: Any, smtp: SMTPServer, prefix: str, events: set[str]) -> bool:
    """Every expected event planned, every delivery sent, every e-mail delivery received."""
    async with db() as session:
        rows = (
            await session.execute(
                select(Delivery.key, Delivery.status, Delivery.channel).where(Delivery.key.startswith(prefix))
            )
        ).all()
    planned = {"/".join(key.split("/")[:2]) for key, _, _ in rows}
    received = mails_by_delivery(smtp)
    missing = sorted(events - planned)
    unsent = sorted(key for key, status, _ in rows if status is not DeliveryStatus.SENT)
    unreceived = sorted(key for key, _, channel in rows if channel is Channel.EMAIL and received[key] == 0)
    DIAGNOSIS[:] = [
        f"{len(rows)} deliveries; events not planned {len(missing)} {missing[:5]}; "
        f"not sent {len(unsent)} {unsent[:5]}; mails not received {len(unreceived)} "
        f"{unreceived[:5]}"
    ]
    return not missing and not unsent and not unreceived


async def assert_each_mail_once(
    db: Any, smtp: SMTPServer, prefix: str, *, resent_after_crash: int = 0
) -> int:
    """Every e-mail delivery sent once. A worker killed between the SMTP server's acceptance and
    the "sent" mark resends after the crash (no SMTP client can know the mail went out): such a
    resend carries the same Message-ID (checked in `mails_by_delivery`), so the receiving mailbox
    keeps one; `resent_after_crash` bounds how many keys may arrive twice that way."""
    async with db() as session:
        statuses = collections.Counter(
            (await session.scalars(select(Delivery.status).where(Delivery.key.startswith(prefix)))).all()
        )
        total = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.key.startswith(prefix))
        )
        distinct = await session.scalar(
            select(func.count(func.distinct(Delivery.key))).where(Delivery.key.startswith(prefix))
        )
    assert total == distinct and statuses == {DeliveryStatus.SENT: total}, statuses
    keys = await email_delivery_keys(db, prefix)
    received = mails_by_delivery(smtp)
    ours = {key: count for key, count in received.items() if key.startswith(prefix)}
    doubled = {key: count for key, count in ours.items() if count != 1}
    assert all(count == 2 for count in doubled.values()), f"mails sent repeatedly: {doubled}"
    assert len(doubled) <= resent_after_crash, f"mails sent more than once: {doubled}"
    assert set(ours) == set(keys), set(keys) ^ set(ours)
    return len(keys)


async def assert_log_and_workflow(db: Any, running: Cluster, activity_id: int, stages: list[str]) -> None:
    async with db() as session:
        log = (
            await session.execute(
                select(Transition.seq, Transition.to_stage)
                .where(Transition.activity_id == activity_id)
                .order_by(Transition.seq)
            )
        ).all()
        row = await session.get_one(Activity, activity_id)
    assert [seq for seq, _ in log] == list(range(1, len(stages) + 1)), (activity_id, log)
    assert [str(stage) for _, stage in log] == stages, (activity_id, log)
    state = await running.client.get_workflow_handle(running.workflow_id(activity_id)).query(
        "current", result_type=LifecycleState
    )
    assert (str(state.stage), state.seq, state.version) == (str(row.stage), len(stages), row.version)


# --- 1. worker killed midway --------------------------------------------------------------------

ACTIVITIES = 60
MOVES = [
    ("task_team", None),
    ("thematic_group", "rework the mandate"),
    ("task_team", None),
    ("withdrawn", "merged into another activity"),
]
EXPECTED = ["thematic_group", "task_team", "thematic_group", "task_team", "withdrawn"]


@POSTGRESQL
async def test_worker_killed_midway_loses_and_doubles_nothing(
    database_url,
    db,
    people,
    task_team,
    smtp_server,
    tmp_path: Path,
):
    async with cluster(tmp_path / "procs", database_url, smtp_server.port) as running:
        first_worker = await running.start_worker()
        api_proc = await running.start_api()
        api = Api([api_proc.url], people.headers(Role.COORDINATOR))
        try:
            started = time.monotonic()
            created = await gather_limited(
                10, [api.create(people, task_team_id=task_team) for _ in range(ACTIVITIES)]
            )
            done = 0
            total = ACTIVITIES * len(MOVES)
            midway = asyncio.Event()

            async def walk(activity: dict[str, Any]) -> None:
                nonlocal done
                version = activity["version"]
                for number, (to, reason) in enumerate(MOVES):
                    response = await api.move(
                        activity["id"],
                        version,
                        to,
                        reason=reason,
                        key=f"{running.workflow_id_prefix}{activity['id']}-{number}",
                    )
                    assert response.status_code == 200, response.text
                    version = response.json()["activity"]["version"]
                    done += 1
                    if done >= total // 2:
                        midway.set()

            async def crash_worker() -> None:
                await midway.wait()
                print(f"SIGKILL worker after {done} moves, {time.monotonic() - started:.1f} s")
                first_worker.kill()
                await running.start_worker()

            async def watchdog() -> None:
                while True:
                    await asyncio.sleep(10)
                    now = time.monotonic()
                    oldest = sorted(api.inflight.items(), key=lambda kv: kv[1])[:3]
                    print(
                        f"t={now - started:.0f}s done={done} outcomes={dict(api.outcomes)} "
                        f"inflight={len(api.inflight)} oldest={[(k, round(now - v)) for k, v in oldest]}"
                        f" crash_done={crash.done()}",
                        flush=True,
                    )

            crash = asyncio.create_task(crash_worker())
            dog = asyncio.create_task(watchdog())
            print(f"{ACTIVITIES} created in {time.monotonic() - started:.1f} s")
            await gather_limited(20, [walk(activity) for activity in created])
            await crash
            dog.cancel()
            moved = time.monotonic()
            assert first_worker.process is not None and first_worker.process.returncode == -9
            running.workers[1].check_alive()

            prefix = running.workflow_id_prefix
            events = {f"{running.workflow_id(a['id'])}/t{seq}" for a in created for seq in range(2, 6)}
            # Deliveries that were running on the killed worker come back after their 35 s
            # start-to-close timeout (no heartbeat), so allow for that.
            await poll(
                lambda: all_delivered(db, smtp_server, prefix, events),
                150,
                what="all delivered",
                why=DIAGNOSIS,
            )
            delivered = time.monotonic()
            for activity in created:
                await assert_log_and_workflow(db, running, activity["id"], EXPECTED)
            # at most the sends in flight on the killed worker (its activity slots)
            mails = await assert_each_mail_once(db, smtp_server, prefix, resent_after_crash=20)
            assert mails >= 2 * len(events)  # the lead and the coordinators group, at least
            print(
                f"{total} moves in {moved - started:.1f} s ({api.retries} client retries); "
                f"all {mails} mails {delivered - moved:.1f} s later"
            )
        finally:
            await api.close()


# --- 2. Temporal restarted with a timer pending ---------------------------------------------------


def reminder_time(after: float) -> datetime:
    """A reminder time of day for timers set within about `after` seconds from now, plus a margin:
    `after` is what the processes' starts took so far, and what remains before the timer must be
    pending is about as many starts. A loaded machine gets a later time, a quiet one waits less (a
    fixed time either waited ~45 s idle or missed its window under load)."""
    return (datetime.now(UTC) + timedelta(seconds=10 + 1.5 * after)).replace(microsecond=0)


def reminder_settings(fire_at: datetime) -> dict[str, str]:
    """An API process's settings: reminders on the due date only, at `fire_at`'s time of day."""
    return {
        "SYNERGIES_REMINDER_TIME_UTC": fire_at.strftime("%H:%M:%S"),
        "SYNERGIES_REMINDER_DAYS_BEFORE": "[0]",
    }


@BOTH
async def test_pending_reminder_fires_after_temporal_restart(
    database_url,
    db,
    people,
    reference_data,
    smtp_server,
    tmp_path: Path,
):
    started = time.monotonic()
    async with cluster(tmp_path / "procs", database_url, smtp_server.port) as running:
        worker = await running.start_worker()
        # Left for after the timer is set: an API start, a create and a Temporal restart, like the
        # starts so far; the reminder time is the API's setting, so it is chosen here.
        fire_at = reminder_time(after=time.monotonic() - started)
        api_proc = await running.start_api(**reminder_settings(fire_at))
        api = Api([api_proc.url], people.headers(Role.COORDINATOR))
        try:
            activity = await api.create(people, stage_due_on=fire_at.date().isoformat())
            assert activity["stage_due_on"] == fire_at.date().isoformat()

            assert running.stop_temporal() == 0, running.temporal.output()  # type: ignore[union-attr]
            await asyncio.sleep(1)
            await running.start_temporal()
            assert datetime.now(UTC) < fire_at - timedelta(seconds=5), "restart took too long"

            async def fired() -> list[ReminderEvent]:
                async with db() as session:
                    return list(
                        await session.scalars(
                            select(ReminderEvent).where(ReminderEvent.activity_id == activity["id"])
                        )
                    )

            assert await fired() == []
            await wait_for(fired, seconds=(fire_at - datetime.now(UTC)).total_seconds() + 30)
            lead = people[Role.TASK_TEAM_LEAD].email
            await wait_for(
                lambda: any(
                    lead in mail.rcpt_tos and "Due today" in str(mail.message["Subject"])
                    for mail in smtp_server.mails
                ),
                seconds=30,
            )
            (event,) = await fired()
            assert event.kind == "due+0" and event.due_on == fire_at.date()
            assert event.fired_at.replace(tzinfo=UTC) >= fire_at
            worker.check_alive()  # the worker rode out the server restart
            await asyncio.sleep(1)
            reminder_mails = [m for m in smtp_server.mails if "Due today" in str(m.message["Subject"])]
            assert len(reminder_mails) == 1
            assert len(await fired()) == 1
        finally:
            await api.close()


# --- 3. two APIs, two workers ---------------------------------------------------------------------


@POSTGRESQL
async def test_two_apis_two_workers_exactly_once(
    database_url,
    db,
    people,
    task_team,
    smtp_server,
    tmp_path: Path,
):
    started = time.monotonic()
    async with cluster(tmp_path / "procs", database_url, smtp_server.port) as running:
        workers = [await running.start_worker(), await running.start_worker()]
        # Left for after the timers are set: two API starts and six creates, like the starts so far;
        # the moves below run while the timers are pending.
        fire_at = reminder_time(after=time.monotonic() - started)
        apis = [await running.start_api(**reminder_settings(fire_at)) for _ in range(2)]
        assert {w.pid for w in workers} <= {int(i.split("@")[0]) for i in await running.pollers()}
        api = Api([a.url for a in apis], people.headers(Role.COORDINATOR))
        try:
            # Reminders due today at fire_at: one each, whichever worker holds the timer.
            reminded = [
                await api.create(people, which=n, stage_due_on=fire_at.date().isoformat()) for n in range(6)
            ]
            assert datetime.now(UTC) < fire_at, "setup took too long for the reminder time"

            # Moves sent alternately to both APIs all succeed.
            created = [await api.create(people, task_team_id=task_team) for _ in range(20)]
            responses = await gather_limited(
                10, [api.move(a["id"], a["version"], "task_team", which=n) for n, a in enumerate(created)]
            )
            assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
            moved = [r.json()["activity"] for r in responses]

            # Conflicting moves through both APIs at once: exactly one wins per activity.
            for activity in moved[:10]:
                attempts = await asyncio.gather(
                    *(
                        api.move(
                            activity["id"], activity["version"], "withdrawn", reason=f"attempt {n}", which=n
                        )
                        for n in range(4)
                    )
                )
                statuses = sorted(r.status_code for r in attempts)
                assert statuses == [200, 409, 409, 409], [r.text for r in attempts]

            async def reminder_events() -> int:
                async with db() as session:
                    return int(await session.scalar(select(func.count()).select_from(ReminderEvent)) or 0)

            await wait_for(
                lambda: reminder_events_at_least(reminder_events, 6),
                seconds=max((fire_at - datetime.now(UTC)).total_seconds(), 0) + 30,
            )
            prefix = running.workflow_id_prefix
            events = {f"{running.workflow_id(a['id'])}/t2" for a in created} | {
                f"{running.workflow_id(a['id'])}/t3" for a in moved[:10]
            }
            await poll(
                lambda: all_delivered(db, smtp_server, prefix, events),
                90,
                what="all delivered",
                why=DIAGNOSIS,
            )
            for activity in moved[:10]:
                await assert_log_and_workflow(
                    db, running, activity["id"], ["thematic_group", "task_team", "withdrawn"]
                )
            for activity in moved[10:]:
                await assert_log_and_workflow(db, running, activity["id"], ["thematic_group", "task_team"])
            await asyncio.sleep(2)  # anything doubled would show up by now
            assert await reminder_events() == 6
            async with db() as session:
                keys = list(await session.scalars(select(ReminderEvent.activity_id)))
            assert sorted(keys) == sorted(a["id"] for a in reminded)
            reminder_keys = [k for k in mails_by_delivery(smtp_server) if "/due+0/" in k]
            assert len(reminder_keys) == 6
            await assert_each_mail_once(db, smtp_server, prefix)
            for proc in [*workers, *apis]:
                proc.check_alive()
        finally:
            await api.close()


async def reminder_events_at_least(count: Any, n: int) -> bool:
    return await count() >= n
