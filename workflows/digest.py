"""The daily digest: a Temporal Schedule ("daily-digest") starts `DigestWorkflow` once a day, which
mails every digest reader their undigested notifications (`send_daily_digest`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
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

    from core.settings import Settings
    from workflows.notifications import DIGEST_TIMEOUT, NotificationActivities

DIGEST_SCHEDULE_ID = "daily-digest"
DIGEST_HOUR_UTC = 6  # 06:00 UTC: before the working day in Geneva
DIGEST_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=30),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=20,
)


@workflow.defn(name="DigestWorkflow")
class DigestWorkflow:
    """Sends the digest of one day (default: the day the schedule fired, UTC)."""

    @workflow.run
    async def run(self, day: str | None = None) -> int:
        day = day or workflow.now().date().isoformat()
        return await workflow.execute_activity_method(
            NotificationActivities.send_daily_digest,
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
