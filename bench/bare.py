"""The bare reference for a move: a workflow whose Update handler runs one activity that writes one
row (its own small transaction on the same database), and answers. No validator, no API, no
notifications: what a Temporal Update + one DB write costs on this machine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

TASK_QUEUE_SUFFIX = "-bare"
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY{auto}, "
    "workflow_id VARCHAR(100) NOT NULL, seq INTEGER NOT NULL, note VARCHAR(100))"
)


@dataclass
class WriteInput:
    workflow_id: str
    seq: int


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
