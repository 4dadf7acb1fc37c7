"""Which reminder an acknowledgement answers (the lifecycle workflow records the answer)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Activity, ReminderEvent

RESPONSE = "response"  # the kind of a row that records a snooze made before any reminder fired


async def pending_reminder(session: AsyncSession, activity: Activity) -> ReminderEvent | None:
    """The latest reminder or escalation fired in the activity's current stage, if it is not yet
    acknowledged: what `POST .../reminders/acknowledge` answers. None when nothing waits."""
    latest = await session.scalar(
        select(ReminderEvent)
        .where(ReminderEvent.activity_id == activity.id, ReminderEvent.stage == activity.stage)
        .order_by(ReminderEvent.fired_at.desc(), ReminderEvent.id.desc())
        .limit(1)
    )
    if latest is None or latest.kind == RESPONSE or latest.acknowledged_at is not None:
        return None
    return latest
