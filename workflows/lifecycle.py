"""One workflow per joint activity: moves and edits are Updates (validated before anything is
written), reminders and escalations are durable timers raced against those updates, and every
change is handed to the notification activities without blocking the move."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import search, sending
    from workflows.events import Audience, EventType, NotificationEvent
    from workflows.messages import (
        AcknowledgeRequest,
        EditInput,
        EditOutput,
        EditRequest,
        LifecycleState,
        MeetingChange,
        MoveRequest,
        Outcome,
        ReminderInput,
        ReminderResponseInput,
        SnoozeRequest,
        TransitionInput,
        TransitionOutput,
    )
    from workflows.reminders import Reminder, ReminderKind, next_wakeup
    from workflows.stages import Stage, TransitionError, check_transition, due_on_entry

# Since this patch the updates' DB writes run as local activities and an event's notifications
# are planned and sent by one `notify` activity; workflows begun before it replay the old commands.
LOCAL_WRITES = "local-writes"

# A move waits for its DB write; if the database stays down the update fails (API: 503).
DB_WRITE = {
    "start_to_close_timeout": timedelta(seconds=15),
    "schedule_to_close_timeout": timedelta(seconds=45),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=6,
        non_retryable_error_types=["Conflict", "NotFound"],
    ),
}


T = TypeVar("T")


def rejection(code: str, message: str, status: int, **extra: object) -> ApplicationError:
    """`extra` reaches the problem body (e.g. current_version of a stale_version)."""
    return ApplicationError(message, {"code": code, "status": status, **extra}, type=code, non_retryable=True)


@workflow.defn
class ActivityLifecycle:
    @workflow.init
    def __init__(self, state: LifecycleState) -> None:
        self.state = state
        self._lock = asyncio.Lock()
        self._busy = False
        self._wake = False
        self._outbox: list[NotificationEvent] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self._updates = 0

    @workflow.run
    async def run(self, state: LifecycleState) -> Outcome:
        if self.state.reminder_watermark is None:
            self.state.reminder_watermark = workflow.now()
        self._upsert_search_attributes()
        while True:
            await self._fire_due_reminder()
            if not self.state.stage.is_open:
                break
            if self._updates >= self.state.max_updates_per_run or (
                workflow.info().is_continue_as_new_suggested()
            ):
                await self._settle()
                workflow.continue_as_new(self.state)
            await self._sleep_until_next_wakeup()
            await self._send_outbox()
        await self._settle()
        return self._outcome()

    # --- queries and updates -------------------------------------------------------------------

    @workflow.query
    def current(self) -> LifecycleState:
        return self.state

    @workflow.update
    async def move(self, request: MoveRequest) -> Outcome:
        async with self._exclusive():
            self._check_move(request)
            state = self.state
            now = workflow.now()
            due_on = due_on_entry(
                request.to,
                now.date(),
                meeting_deadline=request.target_meeting_deadline,
                stage_due_days=state.stage_due_days,
            )
            written = await self._write(
                "record_transition",
                TransitionInput(
                    activity_id=state.activity_id,
                    seq=state.seq + 1,
                    from_stage=state.stage,
                    to_stage=request.to,
                    actor_id=request.actor_id,
                    at=now,
                    expected_version=request.expected_version,
                    reason=request.reason,
                    meeting_id=request.meeting_id,
                    due_on=due_on,
                ),
                TransitionOutput,
            )
            source = state.stage
            state.stage, state.seq, state.version = request.to, state.seq + 1, written.version
            self._set_due_date(due_on, now)
            self._publish(
                EventType.TRANSITION,
                key=f"t{state.seq}",
                title=f"Activity {state.activity_id} moved from {source} to {request.to}",
                body=request.reason or "",
                audiences=(Audience.COORDINATORS, Audience.LEAD, Audience.WATCHERS),
            )
            return self._outcome(written.transition_id)

    @move.validator
    def _validate_move(self, request: MoveRequest) -> None:
        if self._busy:
            raise rejection("conflict", "another change to this activity is in progress", 409)
        self._check_move(request)

    @workflow.update
    async def edit(self, request: EditRequest) -> Outcome:
        async with self._exclusive():
            self._check_version(request.expected_version)
            await self._apply_edit(request.expected_version, request.changes, request.actor_id)
            return self._outcome()

    @edit.validator
    def _validate_edit(self, request: EditRequest) -> None:
        if self._busy:
            raise rejection("conflict", "another change to this activity is in progress", 409)
        self._check_version(request.expected_version)
        if "stage_due_on" in request.changes and not self.state.stage.is_open:
            raise rejection("stage_closed", "a closed or withdrawn activity has no due date", 422)

    @workflow.update
    async def meeting_changed(self, change: MeetingChange) -> Outcome:
        """The target meeting moved: the report_to_cop due date follows its document deadline."""
        async with self._exclusive():
            if self.state.stage is Stage.REPORT_TO_COP and self.state.due_on != change.document_deadline:
                await self._apply_edit(self.state.version, {"stage_due_on": change.document_deadline}, None)
            return self._outcome()

    @workflow.update
    async def snooze(self, request: SnoozeRequest) -> Outcome:
        async with self._exclusive():
            if not self.state.stage.is_open:
                raise rejection("stage_closed", "the activity is closed; nothing to snooze", 422)
            await self._write(
                "record_reminder_response",
                ReminderResponseInput(
                    activity_id=self.state.activity_id,
                    stage=self.state.stage,
                    actor_id=request.actor_id,
                    at=workflow.now(),
                    snoozed_until=request.until,
                    note=request.note,
                ),
            )
            self.state.snoozed_until = request.until
            self._wake = True
            return self._outcome()

    @snooze.validator
    def _validate_snooze(self, request: SnoozeRequest) -> None:
        if request.until <= workflow.now().date():
            raise rejection("invalid_snooze", "snooze until a future date", 422)

    @workflow.update
    async def acknowledge(self, request: AcknowledgeRequest) -> Outcome:
        async with self._exclusive():
            await self._write(
                "record_reminder_response",
                ReminderResponseInput(
                    activity_id=self.state.activity_id,
                    stage=self.state.stage,
                    actor_id=request.actor_id,
                    at=workflow.now(),
                    note=request.note,
                ),
            )
            return self._outcome()

    # --- internals -----------------------------------------------------------------------------

    def _exclusive(self) -> _Exclusive:
        return _Exclusive(self)

    async def _write(self, name: str, argument: object, result_type: type[T] | None = None) -> T:
        """An update's DB write: a local activity (no server round trip), or a regular one when
        replaying a workflow begun before LOCAL_WRITES."""
        if workflow.patched(LOCAL_WRITES):
            # No start_to_close on local activities: the SDK core leaves an earlier attempt's
            # timer running, which can time out a later attempt (temporalio/sdk-rust#1454).
            options = {k: v for k, v in DB_WRITE.items() if k != "start_to_close_timeout"}
            return await workflow.execute_local_activity(  # type: ignore[no-any-return, call-overload]
                name, argument, result_type=result_type, **options
            )
        return await workflow.execute_activity(  # type: ignore[no-any-return, call-overload]
            name, argument, result_type=result_type, **DB_WRITE
        )

    def _check_version(self, expected: int) -> None:
        if expected != self.state.version:
            raise rejection(
                "stale_version",
                f"the activity is at version {self.state.version}, not {expected}; fetch it again",
                409,
                current_version=self.state.version,
            )

    def _check_move(self, request: MoveRequest) -> None:
        self._check_version(request.expected_version)
        try:
            check_transition(
                self.state.stage,
                request.to,
                role=request.role,
                reason=request.reason,
                facts=request.facts,
            )
        except TransitionError as exc:
            raise rejection(exc.code, exc.message, exc.status) from None

    async def _apply_edit(self, expected_version: int, changes: dict, actor_id: int | None) -> None:
        result = await self._write(
            "apply_edit",
            EditInput(self.state.activity_id, expected_version, changes, actor_id),
            EditOutput,
        )
        state = self.state
        previous_due = state.due_on
        state.version, state.lead_id = result.version, result.lead_id
        state.conventions, state.thematic_group_id = result.conventions, result.thematic_group_id
        if result.due_on != previous_due:
            self._set_due_date(result.due_on, workflow.now())
            self._publish(
                EventType.DUE_DATE_CHANGED,
                key=f"d{state.version}",
                title=f"Activity {state.activity_id}: {state.stage} now due {result.due_on}",
                body=f"The due date moved from {previous_due} to {result.due_on}.",
                audiences=(Audience.LEAD, Audience.WATCHERS),
            )
        self._upsert_search_attributes()

    def _set_due_date(self, due_on: date | None, now: datetime) -> None:
        """A new stage or due date re-arms the reminders from now on."""
        self.state.due_on = due_on
        self.state.reminder_watermark = now
        self.state.snoozed_until = None
        self._wake = True
        self._upsert_search_attributes()

    async def _sleep_until_next_wakeup(self) -> None:
        wakeup = self._wakeup()
        timeout = (
            None if wakeup.next_at is None else max((wakeup.next_at - workflow.now()).total_seconds(), 0.001)
        )
        self._wake = False
        try:
            await workflow.wait_condition(
                lambda: (
                    self._wake
                    or bool(self._outbox)
                    or not self.state.stage.is_open
                    or self._updates >= self.state.max_updates_per_run
                ),
                timeout=timeout,
            )
        except TimeoutError:
            pass

    def _wakeup(self):  # type: ignore[no-untyped-def]
        state = self.state
        assert state.reminder_watermark is not None
        return next_wakeup(
            state.due_on,
            state.policy,
            watermark=state.reminder_watermark,
            now=workflow.now(),
            snoozed_until=state.snoozed_until,
        )

    async def _fire_due_reminder(self) -> None:
        if not self.state.stage.is_open:
            return
        reminder = self._wakeup().fire
        if reminder is None:
            return
        state = self.state
        assert state.due_on is not None
        key = f"{workflow.info().workflow_id}/s{state.seq}/{state.due_on}/{reminder.label}"
        await workflow.execute_activity(
            "record_reminder",
            ReminderInput(key, state.activity_id, state.stage, reminder.label, state.due_on, workflow.now()),
            **sending.BACKGROUND_WRITE,
        )
        state.reminder_watermark = reminder.fire_at
        self._publish_reminder(reminder)

    def _publish_reminder(self, reminder: Reminder) -> None:
        state = self.state
        days = reminder.days_from_due
        if reminder.to_lead:
            when = "today" if days == 0 else (f"in {-days} days" if days < 0 else f"{days} days ago")
            self._publish(
                EventType.REMINDER,
                key=f"s{state.seq}/{state.due_on}/{reminder.label}",
                title=f"Reminder: activity {state.activity_id} ({state.stage}) is due {when}",
                body=f"The {state.stage} stage is due on {state.due_on}.",
                audiences=(Audience.LEAD,),
            )
            return
        audiences: tuple[Audience, ...] = (Audience.COORDINATORS, Audience.LEAD)
        if reminder.kind is ReminderKind.MANAGEMENT:
            audiences += (Audience.MANAGEMENT,)
        self._publish(
            EventType.ESCALATION,
            key=f"s{state.seq}/{state.due_on}/{reminder.label}",
            title=f"Overdue {days} days: activity {state.activity_id} ({state.stage})",
            body=f"The {state.stage} stage was due on {state.due_on}.",
            audiences=audiences,
        )

    def _publish(
        self, type_: EventType, *, key: str, title: str, body: str, audiences: tuple[Audience, ...]
    ) -> None:
        state = self.state
        self._outbox.append(
            NotificationEvent(
                key=f"{workflow.info().workflow_id}/{key}",
                type=type_,
                title=title,
                body=body,
                activity_id=state.activity_id,
                stage=state.stage.value,
                conventions=tuple(state.conventions),
                thematic_group_id=state.thematic_group_id,
                audiences=audiences,
                due_on=state.due_on,
                link=f"/activities/{state.activity_id}",
            )
        )

    async def _send_outbox(self) -> None:
        """Notify in the background: a move never waits for its mail."""
        while self._outbox:
            event = self._outbox.pop(0)
            if workflow.patched(LOCAL_WRITES):
                send = sending.notify(event)
            else:
                send = sending.deliver_all(await sending.plan_deliveries(event))
            task = asyncio.create_task(send)
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _settle(self) -> None:
        """Before continue-as-new or completion: no update, notification or delivery left behind."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._send_outbox()
        if self._deliveries:
            await asyncio.gather(*list(self._deliveries))

    def _upsert_search_attributes(self) -> None:
        state = self.state
        if not state.search_attributes:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            search.STAGE.value_set(state.stage.value),
            search.CONVENTIONS.value_set(list(state.conventions)),
            search.THEMATIC_GROUP.value_set(str(state.thematic_group_id or "")),
        ]
        if state.due_on is not None:
            updates.append(
                search.STAGE_DUE_ON.value_set(
                    datetime.combine(state.due_on, datetime.min.time(), tzinfo=workflow.now().tzinfo)
                )
            )
        else:
            updates.append(search.STAGE_DUE_ON.value_unset())
        workflow.upsert_search_attributes(updates)

    def _outcome(self, transition_id: int | None = None) -> Outcome:
        state = self.state
        return Outcome(state.activity_id, state.stage, state.version, state.seq, state.due_on, transition_id)


class _Exclusive:
    """Serialise changes: one update at a time touches the activity row, and counts towards
    continue-as-new."""

    def __init__(self, lifecycle: ActivityLifecycle) -> None:
        self._lifecycle = lifecycle

    async def __aenter__(self) -> None:
        await self._lifecycle._lock.acquire()
        self._lifecycle._busy = True
        self._lifecycle._updates += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._lifecycle._busy = False
        self._lifecycle._lock.release()
