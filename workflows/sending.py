"""Workflow-side steps for notifications, shared by every workflow that notifies: write an event to
the outbox (services/outbox.py), or in a history from before it hand it to the `notify` activity
with retries and mark failed what is left after the last attempt.

Call these from workflow code only (they schedule activities)."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.events import NotificationEvent
    from workflows.activities import LifecycleActivities
    from workflows.notifications import DELIVER_TIMEOUT, DELIVERY_RETRY_POLICY, NotificationActivities

OUTBOX_PATCH = "notification-outbox"
"""`workflow.patched` id: from here on, events go to the outbox rather than to `notify`."""


class ActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


# Background writes (reminders, failure marks) retry until the database answers.
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
        await workflow.execute_activity_method(
            NotificationActivities.notify,
            event,
            task_queue=queue,
            start_to_close_timeout=DELIVER_TIMEOUT,
            retry_policy=DELIVERY_RETRY_POLICY,
        )
    except ActivityError as exc:
        await workflow.execute_activity_method(
            NotificationActivities.mark_event_failed,
            args=[event, str(exc.cause or exc)],
            task_queue=queue,
            **BACKGROUND_WRITE,
        )


async def announce(event: NotificationEvent) -> None:
    """An event of a workflow with no DB write of its own to carry it (a report draft)."""
    if workflow.patched(OUTBOX_PATCH):
        await workflow.execute_activity_method(
            LifecycleActivities.enqueue_notifications, [event], **BACKGROUND_WRITE
        )
    else:
        await notify(event)
