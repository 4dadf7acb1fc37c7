"""The references a move is measured against, all on the same dev server, worker process and
database as the move (bench/transitions.py runs them in one run):

- `noop`: an Update whose handler does nothing (the engine's ceiling on this machine);
- `record`: an Update whose handler writes through the move's own write path: the local activity
  `record_transition` of `workflows.activities.LifecycleActivities` (the same function, the same
  transaction, the same retry options), moving a prepared activity thematic_group → task_team;
- `write`: the old "bare" reference, an Update whose handler runs a regular activity inserting
  one row (a round trip through the server's activity queue).

No API, no validator, no notifications. The plain FastAPI endpoint without Temporal is
`bench/plain_app.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from core.stages import Stage
    from services.transitions import TransitionRecord
    from workflows.activities import LifecycleActivities
    from workflows.messages import TransitionOutput

TASK_QUEUE_SUFFIX = "-bare"
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY{auto}, "
    "workflow_id VARCHAR(100) NOT NULL, seq INTEGER NOT NULL, note VARCHAR(100))"
)
# The options the lifecycle workflow gives its local writes (workflows.lifecycle.DB_WRITE without
# start_to_close, as `_write` does).
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=6,
    non_retryable_error_types=["Conflict", "NotFound"],
)


@dataclass
class WriteInput:
    workflow_id: str
    seq: int


@dataclass
class RecordRequest:
    """Move `activity_id` (prepared in thematic_group, version 1, one transition) to task_team."""

    activity_id: int
    actor_id: int


class BareActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    @activity.defn(name="bench_write_row")
    async def write_row(self, data: WriteInput) -> int:
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                text("INSERT INTO bench_rows (workflow_id, seq, note) VALUES (:w, :s, 'bare') RETURNING id"),
                {"w": data.workflow_id, "s": data.seq},
            )
            return int(result.scalar_one())


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    def __init__(self) -> None:
        self.seq = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.seq

    @workflow.update
    async def noop(self) -> int:
        self.seq += 1
        return self.seq

    @workflow.update
    async def record(self, request: RecordRequest) -> int:
        info = workflow.current_update_info()
        assert info is not None
        now = workflow.now()
        written: TransitionOutput = await workflow.execute_local_activity_method(
            LifecycleActivities.record_transition,
            TransitionRecord(
                activity_id=request.activity_id,
                seq=2,
                from_stage=Stage.THEMATIC_GROUP,
                to_stage=Stage.TASK_TEAM,
                actor_id=request.actor_id,
                at=now,
                expected_version=1,
                due_on=(now + timedelta(days=180)).date(),
                request_key=info.id,
                request_hash="bench",
            ),
            schedule_to_close_timeout=timedelta(seconds=45),
            retry_policy=LOCAL_RETRY,
        )
        return written.transition_id

    @workflow.update
    async def write(self) -> int:
        self.seq += 1
        return await workflow.execute_activity(
            "bench_write_row",
            WriteInput(workflow.info().workflow_id, self.seq),
            result_type=int,
            start_to_close_timeout=timedelta(seconds=15),
        )

    @workflow.signal
    def finish(self) -> None:
        self.done = True
