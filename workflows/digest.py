"""The daily digest: a Temporal Schedule ("daily-digest") starts `DigestWorkflow` once a day, which
mails every digest reader their undigested notifications (`send_daily_digest`, its activity, here
beside it; what a digest says and its delivery log are services/digest.py).

Worker registration: workflow `DigestWorkflow`; activities `DigestActivities(settings,
sessionmaker).all()` on the same task queue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import (
        Client,
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleCalendarSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleRange,
        ScheduleSpec,
        ScheduleUpdate,
        ScheduleUpdateInput,
    )

    from core.metrics import DELIVERIES, DELIVERY_FAILURES
    from core.settings import Settings
    from models import Channel, Person
    from services.digest import Digest, digest_readers, open_digest, record_digest_failure, record_digest_sent
    from services.notification_messages import render_digest
    from workflows.channels import send_email

DIGEST_SCHEDULE_ID = "daily-digest"
DIGEST_HOUR_UTC = 6  # 06:00 UTC: before the working day in Geneva
DIGEST_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=30),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=20,
)
DIGEST_TIMEOUT = timedelta(minutes=30)


class DigestActivities:
    """The digest's activity, built with its clients."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for `Worker(activities=...)`."""
        return [self.send_daily_digest]

    @activity.defn
    async def send_daily_digest(self, day: str) -> int:
        """One e-mail per digest reader listing their undigested notifications and what is due;
        weekly readers get theirs on `settings.digest_weekday` only. Returns mails sent.

        Idempotent per person and day (Delivery key `digest/{day}/p{id}`); a person whose mail
        failed does not stop the others, and the activity raises at the end so Temporal retries.
        """
        on = date.fromisoformat(day)  # reject garbage early
        weekly_day = on.weekday() == self.settings.digest_weekday
        async with self.sessionmaker() as session:
            persons = await digest_readers(session)
        sent, errors = 0, []
        for person in persons:
            if person.daily_digest and person.digest_weekly and not weekly_day:
                continue
            try:
                sent += await self._send_digest(person, on)
            except Exception as exc:
                errors.append(f"{person.email}: {type(exc).__name__}: {exc}")
        if errors:
            raise RuntimeError(f"{len(errors)} digest mail(s) failed: " + "; ".join(errors))
        return sent

    async def _send_digest(self, person: Person, on: date) -> int:
        """Send one person's digest of `on` unless sent already or empty; 1 if sent now."""
        async with self.sessionmaker() as session, session.begin():
            digest = await open_digest(session, self.settings, person, on)
        if digest is None:
            return 0
        rendered = render_digest(
            self.settings, person.name, on, person.digest_weekly, digest.changes, digest.due
        )
        try:
            await send_email(self.settings, rendered, to=person.email, key=digest.key)
        except Exception as exc:
            await self._record_failure(digest, f"{type(exc).__name__}: {exc}")
            raise
        async with self.sessionmaker() as session, session.begin():
            await record_digest_sent(session, digest, datetime.now(UTC))
        DELIVERIES.labels(channel=Channel.EMAIL.value).inc()
        return 1

    async def _record_failure(self, digest: Digest, error: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await record_digest_failure(session, digest, error)
        DELIVERY_FAILURES.labels(channel=Channel.EMAIL.value).inc()


@workflow.defn(name="DigestWorkflow")
class DigestWorkflow:
    """Sends the digest of one day (default: the day the schedule fired, UTC)."""

    @workflow.run
    async def run(self, day: str | None = None) -> int:
        day = day or workflow.now().date().isoformat()
        return await workflow.execute_activity_method(
            DigestActivities.send_daily_digest,
            day,
            start_to_close_timeout=DIGEST_TIMEOUT,
            retry_policy=DIGEST_RETRY_POLICY,
        )


def digest_schedule(settings: Settings, hour: int = DIGEST_HOUR_UTC) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DigestWorkflow.run,
            id=f"{DIGEST_SCHEDULE_ID}-run",
            task_queue=settings.temporal_task_queue,
            execution_timeout=timedelta(hours=23),
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(0)])]
        ),
        # A run missed while the server was down is caught up (within a day), not skipped.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=timedelta(days=1)),
    )


async def ensure_digest_schedule(client: Client, settings: Settings, hour: int = DIGEST_HOUR_UTC) -> None:
    """Create the "daily-digest" schedule (daily at `hour`:00 UTC), or bring an existing one up to
    date (idempotent: safe at every worker start)."""
    schedule = digest_schedule(settings, hour)
    try:
        await client.create_schedule(DIGEST_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(DIGEST_SCHEDULE_ID)

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule.state = current.description.schedule.state  # keep a pause set by an operator
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
