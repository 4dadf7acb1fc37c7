"""The lifecycle workflow's DB activities. Each is idempotent: a retry after a crash between the
commit and the reply finds its own write (keys from workflow id + sequence) and returns it.

The workflow runs them as local activities inside its updates: a move is one workflow task, not
a round trip through the server's activity queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core import metrics
from core.errors import DomainError
from core.events import NotificationEvent
from models import ReminderEvent, utcnow
from models.db import transaction
from models.sql import insert_ignore
from services.activity_edits import apply_edit as apply_edit_to_row
from services.outbox import enqueue
from services.transitions import TransitionRecord, lifecycle_row, record_transition
from workflows.messages import (
    EditInput,
    EditOutput,
    LifecycleSnapshot,
    RecordedTransition,
    ReminderInput,
    ReminderResponseInput,
    SnapshotInput,
    TransitionOutput,
)


def _rejected_data(exc: DataError) -> ApplicationError:
    """The database refused a value (out of range, not storable): retrying cannot help."""
    return ApplicationError(
        f"the database refused a value: {exc.orig}",
        {"code": "invalid_value", "status": 422},
        type="Conflict",
        non_retryable=True,
    )


def _as_application_error(exc: DomainError) -> ApplicationError:
    kind = "NotFound" if exc.status == 404 else "Conflict"
    return ApplicationError(
        exc.detail, {"code": exc.code, "status": exc.status, **exc.extra}, type=kind, non_retryable=True
    )


class LifecycleActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    @activity.defn
    async def record_transition(self, data: TransitionRecord) -> TransitionOutput:
        try:
            async with transaction(self.sessionmaker) as session:
                row, version = await record_transition(session, data)
                output = TransitionOutput(
                    transition_id=row.id,
                    version=version,
                    at=row.at,
                    from_stage=row.from_stage,
                    due_on=row.due_on,
                    actor_id=row.actor_id,
                    reason=row.reason,
                    meeting_id=row.meeting_id,
                    request_hash=row.request_hash,
                )
        except DomainError as exc:
            raise _as_application_error(exc) from None
        except DataError as exc:
            raise _rejected_data(exc) from None
        metrics.MOVES.labels(str(data.from_stage), str(data.to_stage)).inc()
        return output

    @activity.defn
    async def read_lifecycle(self, data: SnapshotInput) -> LifecycleSnapshot:
        """What a workflow that found the database ahead of it adopts."""
        try:
            async with transaction(self.sessionmaker) as session:
                row = await lifecycle_row(session, data.activity_id, data.after_seq)
        except DomainError as exc:
            raise _as_application_error(exc) from None
        return LifecycleSnapshot(
            stage=row.stage,
            version=row.version,
            seq=row.seq,
            due_on=row.due_on,
            lead_id=row.lead_id,
            conventions=row.conventions,
            thematic_group_id=row.thematic_group_id,
            transitions=[
                RecordedTransition(
                    transition_id=t.id,
                    seq=t.seq,
                    from_stage=t.from_stage,
                    to_stage=t.to_stage,
                    actor_id=t.actor_id,
                    reason=t.reason,
                    request_key=t.request_key,
                )
                for t in row.transitions
            ],
        )

    @activity.defn
    async def apply_edit(self, data: EditInput) -> EditOutput:
        try:
            async with transaction(self.sessionmaker) as session:
                row = await apply_edit_to_row(
                    session, data.activity_id, data.expected_version, data.changes, data.actor_id
                )
                return EditOutput(
                    version=row.version,
                    due_on=row.stage_due_on,
                    lead_id=row.lead_id,
                    conventions=row.convention_codes,
                    thematic_group_id=row.thematic_group_id,
                )
        except DomainError as exc:
            raise _as_application_error(exc) from None
        except DataError as exc:
            raise _rejected_data(exc) from None

    @activity.defn
    async def record_reminder(self, data: ReminderInput) -> None:
        async with transaction(self.sessionmaker) as session:
            await session.execute(
                insert_ignore(
                    session,
                    ReminderEvent,
                    dict(
                        key=data.key,
                        activity_id=data.activity_id,
                        stage=data.stage.value,
                        kind=data.kind,
                        due_on=data.due_on,
                        fired_at=data.fired_at,
                    ),
                    "key",
                )
            )
            if data.notification is not None:
                await enqueue(session, [data.notification], utcnow())
        metrics.REMINDERS.labels(data.kind.rstrip("+-0123456789")).inc()

    @activity.defn
    async def record_reminder_response(self, data: ReminderResponseInput) -> None:
        """Acknowledge or snooze the latest reminder of the current stage (or record a standalone
        snooze when none fired yet)."""
        try:
            await self._record_reminder_response(data)
        except DataError as exc:
            raise _rejected_data(exc) from None

    async def _record_reminder_response(self, data: ReminderResponseInput) -> None:
        async with transaction(self.sessionmaker) as session:
            latest = await session.scalar(
                select(ReminderEvent)
                .where(ReminderEvent.activity_id == data.activity_id, ReminderEvent.stage == data.stage.value)
                .order_by(ReminderEvent.fired_at.desc(), ReminderEvent.id.desc())
                .limit(1)
            )
            values = (
                {"snoozed_until": data.snoozed_until, "snoozed_by_id": data.actor_id}
                if data.snoozed_until
                else {"acknowledged_at": data.at, "acknowledged_by_id": data.actor_id}
            )
            if data.note:
                values["note"] = data.note
            if latest is not None:
                await session.execute(
                    update(ReminderEvent).where(ReminderEvent.id == latest.id).values(**values)
                )
                return
            await session.execute(
                insert_ignore(
                    session,
                    ReminderEvent,
                    dict(
                        key=f"activity-{data.activity_id}/response/{data.at.isoformat()}",
                        activity_id=data.activity_id,
                        stage=data.stage.value,
                        kind="response",
                        due_on=data.snoozed_until or data.at.date(),
                        fired_at=data.at,
                        **values,
                    ),
                    "key",
                )
            )

    @activity.defn
    async def enqueue_notifications(self, events: list[NotificationEvent]) -> int:
        """Events that no write of their own carries (a due-date change, a write adopted from the
        database, a report draft) to the outbox; returns how many were new."""
        async with transaction(self.sessionmaker) as session:
            return await enqueue(session, events, utcnow())

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.enqueue_notifications,
            self.record_transition,
            self.read_lifecycle,
            self.apply_edit,
            self.record_reminder,
            self.record_reminder_response,
        ]
