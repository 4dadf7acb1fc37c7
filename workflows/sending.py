"""Workflow-side steps for notifications, shared by every workflow that notifies: plan and send
the deliveries of an event with retries, marking failed what is left after the last attempt.

Call these from workflow code only (they schedule activities)."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.events import NotificationEvent
    from workflows.notifications import DELIVER_TIMEOUT, DELIVERY_RETRY_POLICY


class ActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


# Background writes (planning, reminders, failure marks) retry until the database answers.
BACKGROUND_WRITE = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
)


def notifications_task_queue(task_queue: str) -> str:
    """Where a workflow on `task_queue` sends its notifications: their own queue and workers."""
    return f"{task_queue}-notifications"


async def notify(event: NotificationEvent) -> None:
    """Plan and send an event's notifications with retries; when every retry has failed, record
    the failure of those still unsent (never 'sent')."""
    queue = notifications_task_queue(workflow.info().task_queue)
    try:
        await workflow.execute_activity(
            "notify",
            event,
            task_queue=queue,
            start_to_close_timeout=DELIVER_TIMEOUT,
            retry_policy=DELIVERY_RETRY_POLICY,
        )
    except ActivityError as exc:
        await workflow.execute_activity(
            "mark_event_failed",
            args=[event, str(exc.cause or exc)],
            task_queue=queue,
            **BACKGROUND_WRITE,
        )


# What workflows begun before `notify` replay: plan, then send in a second activity.


async def plan_deliveries(event: NotificationEvent) -> list[int]:
    return await workflow.execute_activity(
        "plan_deliveries",
        event,
        result_type=list[int],
        **BACKGROUND_WRITE,
    )


async def deliver_all(delivery_ids: list[int]) -> None:
    """Send an event's deliveries with retries; when every retry has failed, record the failure
    of those still unsent (never 'sent')."""
    if not delivery_ids:
        return
    try:
        await workflow.execute_activity(
            "deliver_batch",
            delivery_ids,
            start_to_close_timeout=DELIVER_TIMEOUT,
            retry_policy=DELIVERY_RETRY_POLICY,
        )
    except ActivityError as exc:
        for delivery_id in delivery_ids:
            await workflow.execute_activity(
                "mark_delivery_failed",
                args=[delivery_id, str(exc.cause or exc)],
                **BACKGROUND_WRITE,
            )
