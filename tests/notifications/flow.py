"""A workflow that does with an event what the lifecycle workflow does: plan, deliver each with
retries, mark the ones that gave up as failed. Kept apart so the sandbox imports little."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.events import NotificationEvent
    from workflows.notifications import NotificationActivities


@dataclass
class NotifyInput:
    event: NotificationEvent
    retry_initial_ms: int = 200
    retry_maximum_attempts: int = 30


@workflow.defn
class NotifyWorkflow:
    @workflow.run
    async def run(self, data: NotifyInput) -> list[str]:
        ids = await workflow.execute_activity_method(
            NotificationActivities.plan_deliveries,
            data.event,
            start_to_close_timeout=timedelta(seconds=30),
        )
        policy = RetryPolicy(
            initial_interval=timedelta(milliseconds=data.retry_initial_ms),
            backoff_coefficient=1.5,
            maximum_interval=timedelta(seconds=1),
            maximum_attempts=data.retry_maximum_attempts,
        )
        return list(await asyncio.gather(*(self._deliver(i, policy) for i in ids)))

    async def _deliver(self, delivery_id: int, policy: RetryPolicy) -> str:
        try:
            return await workflow.execute_activity_method(
                NotificationActivities.deliver,
                delivery_id,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=policy,
            )
        except ActivityError as exc:
            await workflow.execute_activity_method(
                NotificationActivities.mark_delivery_failed,
                args=[delivery_id, str(exc.cause or exc)],
                start_to_close_timeout=timedelta(seconds=30),
            )
            return "failed"
