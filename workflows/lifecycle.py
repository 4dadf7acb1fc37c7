"""One workflow per joint activity: moves and edits are Updates (validated before anything is
written), reminders and escalations are durable timers raced against those updates, and every
change is announced by an event written to the notification outbox in the change's own
transaction (services/outbox.py), so a move never waits for its mail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, TypedDict, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.events import Audience, EventType, NotificationEvent
    from core.reminders import Reminder, ReminderKind, next_wakeup
    from core.stages import Stage, TransitionError, check_transition, due_on_entry
    from services.transitions import TransitionRecord
    from workflows import search, sending
    from workflows.activities import LifecycleActivities
    from workflows.messages import (
        AcknowledgeRequest,
        EditInput,
        EditRequest,
        LifecycleState,
        MeetingChange,
        MoveRequest,
        Outcome,
        ReminderInput,
        ReminderResponseInput,
        SnapshotInput,
        SnoozeRequest,
    )


class LocalActivityOptions(TypedDict):
    schedule_to_close_timeout: timedelta
    retry_policy: RetryPolicy


# A move waits for its DB write (a local activity); if the database stays down the update fails
# (API: 503). No start_to_close timeout: the SDK core leaves an earlier attempt's timer running,
# which can time out a later attempt (temporalio/sdk-rust#1454).
DB_WRITE = LocalActivityOptions(
    schedule_to_close_timeout=timedelta(seconds=45),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=6,
        non_retryable_error_types=["Conflict", "NotFound"],
    ),
)


# How many adopted writes (request key -> transition) a workflow remembers for their requests.
ADOPTED_KEPT = 32

A = TypeVar("A")
R = TypeVar("R")


def rejection(code: str, message: str, status: int, **extra: object) -> ApplicationError:
    """`extra` reaches the problem body (e.g. current_version of a stale_version)."""
    return ApplicationError(message, {"code": code, "status": status, **extra}, type=code, non_retryable=True)


def _found_database_ahead(error: ActivityError) -> bool:
    """The write found the row changed by a write this history does not know of."""
    cause = error.cause
    if not isinstance(cause, ApplicationError) or not cause.details:
        return False
    details = cause.details[0]
    return isinstance(details, dict) and details.get("code") == "stale_version"


def _request_key() -> str:
    info = workflow.current_update_info()
    assert info is not None, "called outside an update"
    return info.id


@workflow.defn
class ActivityLifecycle:
    @workflow.init
    def __init__(self, state: LifecycleState) -> None:
        self.state = state
        self._lock = asyncio.Lock()
        self._busy = False
        self._wake = False
        # Events of a history from before the outbox, each handed to a `notify` activity.
        self._to_notify: list[NotificationEvent] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self._updates = 0
        self._reconcile_requested = False

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
            if self._reconcile_requested:
                async with self._exclusive(change=False):
                    await self._reconcile()
            await self._notify_in_background()
        await self._settle()
        return self._outcome()

    # --- queries and updates -------------------------------------------------------------------

    @workflow.query
    def current(self) -> LifecycleState:
        return self.state

    @workflow.update
    async def move(self, request: MoveRequest) -> Outcome:
        key = _request_key()
        async with self._exclusive():
            if request.expected_version > self.state.version:  # the database is ahead of this history
                await self._reconcile()
            if key in self.state.adopted:  # written before its workflow task was lost
                return self._outcome(self.state.adopted[key])
            self._check_move(request)
            state = self.state
            now = workflow.now()
            due_on = due_on_entry(
                request.to,
                now.date(),
                meeting_deadline=request.target_meeting_deadline,
                stage_due_days=state.stage_due_days,
            )
            notification = None
            if self._outbox():
                event = self._transition_event(
                    state.seq + 1, state.stage, request.to, request.actor_id, request.reason
                )
                notification = replace(event, stage=request.to.value, due_on=due_on)
            try:
                written = await self._write(
                    LifecycleActivities.record_transition,
                    TransitionRecord(
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
                        request_key=key,
                        request_hash=request.request_hash,
                        notification=notification,
                    ),
                )
            except ActivityError as error:
                if not _found_database_ahead(error):
                    raise
                await self._reconcile()
                if key in self.state.adopted:
                    return self._outcome(self.state.adopted[key])
                self._check_version(request.expected_version)
                raise
            source = state.stage
            state.stage, state.seq, state.version = request.to, state.seq + 1, written.version
            self._set_due_date(due_on, now)
            if notification is None:
                self._to_notify.append(
                    self._transition_event(
                        state.seq, source, request.to, request.actor_id, request.reason, written.transition_id
                    )
                )
            outcome = self._outcome(written.transition_id)
            outcome.written = written
            return outcome

    @move.validator
    def _validate_move(self, request: MoveRequest) -> None:
        if _request_key() in self.state.adopted:
            return
        if request.expected_version > self.state.version:
            # The client saw a write this history lacks, perhaps the one in progress (its answer
            # came from the database while its update was still pending, as after a worker
            # kill): the handler waits its turn, adopts the write, then checks.
            return
        self._refuse_if_busy()
        self._check_move(request)

    @workflow.signal
    def reconcile(self) -> None:
        """Someone saw a write in the database that this workflow may not know of: re-read it."""
        self._reconcile_requested = True

    @workflow.update
    async def edit(self, request: EditRequest) -> Outcome:
        async with self._exclusive():
            if request.expected_version > self.state.version:  # the database is ahead of this history
                await self._reconcile()
            self._check_version(request.expected_version)
            await self._apply_edit(request.expected_version, request.changes, request.actor_id)
            return self._outcome()

    @edit.validator
    def _validate_edit(self, request: EditRequest) -> None:
        if request.expected_version <= self.state.version:  # else as for a move: its turn comes
            self._refuse_if_busy()
        if request.expected_version < self.state.version:
            self._check_version(request.expected_version)
        if "stage_due_on" in request.changes and not self.state.stage.is_open:
            raise rejection("stage_closed", "a closed or withdrawn activity has no due date", 422)

    @workflow.update
    async def meeting_changed(self, change: MeetingChange) -> Outcome:
        """The target meeting moved: the report_to_cop due date follows its document deadline."""
        async with self._exclusive():
            for _ in range(2):  # once more after adopting a write this history did not know of
                if self.state.stage is not Stage.REPORT_TO_COP:
                    break
                if self.state.due_on == change.document_deadline:
                    break
                version = self.state.version
                try:
                    await self._apply_edit(version, {"stage_due_on": change.document_deadline}, None)
                except ActivityError as error:
                    if not _found_database_ahead(error) or self.state.version == version:
                        raise
            return self._outcome()

    @workflow.update
    async def snooze(self, request: SnoozeRequest) -> Outcome:
        async with self._exclusive():
            if not self.state.stage.is_open:
                raise rejection("stage_closed", "the activity is closed; nothing to snooze", 422)
            await self._write(
                LifecycleActivities.record_reminder_response,
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
                LifecycleActivities.record_reminder_response,
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

    def _exclusive(self, *, change: bool = True) -> _Exclusive:
        """`change=False`: the workflow re-reading the database (a `reconcile` signal, a due
        reminder), which a change arriving meanwhile waits for rather than being refused."""
        return _Exclusive(self, change)

    async def _write(self, write: Callable[[LifecycleActivities, A], Awaitable[R]], argument: A) -> R:
        """An update's DB write (a `LifecycleActivities` method): a local activity, run inside the
        update's workflow task with no round trip through the server's activity queue."""
        return await workflow.execute_local_activity_method(write, argument, **DB_WRITE)

    def _refuse_if_busy(self) -> None:
        """A request from the version this history holds, while another change is being written:
        it would be stale if that change succeeds, so say so at once (nothing is written)."""
        if self._busy:
            raise rejection("conflict", "another change to this activity is in progress", 409)

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
        try:
            result = await self._write(
                LifecycleActivities.apply_edit,
                EditInput(self.state.activity_id, expected_version, changes, actor_id),
            )
        except ActivityError as error:
            if _found_database_ahead(error):
                await self._reconcile()
            raise
        state = self.state
        previous_due = state.due_on
        state.version, state.lead_id = result.version, result.lead_id
        state.conventions, state.thematic_group_id = result.conventions, result.thematic_group_id
        if result.due_on != previous_due:
            self._set_due_date(result.due_on, workflow.now())
            event = self._event(
                EventType.DUE_DATE_CHANGED,
                key=f"d{state.version}",
                title=f"Activity {state.activity_id}: {state.stage} now due {result.due_on}",
                body=f"The due date moved from {previous_due} to {result.due_on}.",
                audiences=(Audience.LEAD, Audience.WATCHERS),
                actor_id=actor_id,
                data={"previous_due_on": str(previous_due or "")},
            )
            await self._announce([event])
        self._upsert_search_attributes()

    async def _reconcile(self) -> None:
        """Adopt what the database holds: a write committed by a workflow task that was then lost
        (worker or server gone, speculative update dropped) is accounted for here, announced once,
        and answered to its own request if it comes again."""
        self._reconcile_requested = False
        state = self.state
        found = await self._write(
            LifecycleActivities.read_lifecycle, SnapshotInput(state.activity_id, state.seq)
        )
        if found.version == state.version and found.seq == state.seq:
            return
        workflow.logger.warning(
            "activity %s: database at seq %s version %s, workflow at %s/%s; adopting",
            state.activity_id,
            found.seq,
            found.version,
            state.seq,
            state.version,
        )
        state.stage, state.seq, state.version = found.stage, found.seq, found.version
        state.lead_id, state.conventions = found.lead_id, found.conventions
        state.thematic_group_id = found.thematic_group_id
        self._set_due_date(found.due_on, workflow.now())
        for written in found.transitions:
            if written.request_key:
                state.adopted[written.request_key] = written.transition_id
        while len(state.adopted) > ADOPTED_KEPT:
            state.adopted.pop(next(iter(state.adopted)))
        # Written with its event since the outbox; written before it, or by a seed, without one.
        await self._announce(
            [
                self._transition_event(
                    written.seq,
                    written.from_stage,
                    written.to_stage,
                    written.actor_id,
                    written.reason,
                    written.transition_id,
                )
                for written in found.transitions
            ]
        )

    def _transition_event(
        self,
        seq: int,
        source: Stage | None,
        target: Stage,
        actor_id: int | None,
        reason: str | None,
        transition_id: int | None = None,
    ) -> NotificationEvent:
        """`transition_id` None: the write fills it in (services.transitions.record_transition)."""
        return self._event(
            EventType.TRANSITION,
            key=f"t{seq}",
            title=f"Activity {self.state.activity_id} moved from {source} to {target}",
            body=reason or "",
            audiences=(Audience.COORDINATORS, Audience.LEAD, Audience.WATCHERS),
            actor_id=actor_id,
            from_stage=str(source) if source else None,
            to_stage=str(target),
            reason=reason,
            transition_id=transition_id,
        )

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
                    or self._reconcile_requested
                    or bool(self._to_notify)
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
        # A lost write may have moved the activity on: remind of the stage it is in.
        async with self._exclusive(change=False):
            await self._reconcile()
        reminder = self._wakeup().fire
        if reminder is None or not self.state.stage.is_open:
            return
        state = self.state
        assert state.due_on is not None
        key = f"{workflow.info().workflow_id}/s{state.seq}/{state.due_on}/{reminder.label}"
        event = self._reminder_event(reminder)
        in_outbox = self._outbox()
        await workflow.execute_activity_method(
            LifecycleActivities.record_reminder,
            ReminderInput(
                key,
                state.activity_id,
                state.stage,
                reminder.label,
                state.due_on,
                workflow.now(),
                notification=event if in_outbox else None,
            ),
            **sending.BACKGROUND_WRITE,
        )
        state.reminder_watermark = reminder.fire_at
        if not in_outbox:
            self._to_notify.append(event)

    def _reminder_event(self, reminder: Reminder) -> NotificationEvent:
        state = self.state
        days = reminder.days_from_due
        if reminder.to_lead:
            when = "today" if days == 0 else (f"in {-days} days" if days < 0 else f"{days} days ago")
            return self._event(
                EventType.REMINDER,
                key=f"s{state.seq}/{state.due_on}/{reminder.label}",
                title=f"Reminder: activity {state.activity_id} ({state.stage}) is due {when}",
                body=f"The {state.stage} stage is due on {state.due_on}.",
                audiences=(Audience.LEAD,),
            )
        audiences: tuple[Audience, ...] = (Audience.COORDINATORS, Audience.LEAD)
        if reminder.kind is ReminderKind.MANAGEMENT:
            audiences += (Audience.MANAGEMENT,)
        return self._event(
            EventType.ESCALATION,
            key=f"s{state.seq}/{state.due_on}/{reminder.label}",
            title=f"Overdue {days} days: activity {state.activity_id} ({state.stage})",
            body=f"The {state.stage} stage was due on {state.due_on}.",
            audiences=audiences,
        )

    def _event(
        self,
        type_: EventType,
        *,
        key: str,
        title: str,
        body: str,
        audiences: tuple[Audience, ...],
        **what: Any,
    ) -> NotificationEvent:
        """`what`: the event's who / from / to / why fields (core.events.NotificationEvent)."""
        state = self.state
        return NotificationEvent(
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
            **what,
        )

    def _outbox(self) -> bool:
        """Events go to the outbox with their write; a history from before it keeps handing
        them to `notify` activities until its next event (then this marks it as patched)."""
        return workflow.patched(sending.OUTBOX_PATCH)

    async def _announce(self, events: list[NotificationEvent]) -> None:
        """Events that no write of their own carries: to the outbox (a local activity), or in a
        history from before it to `notify`."""
        if not events:
            return
        if self._outbox():
            await self._write(LifecycleActivities.enqueue_notifications, events)
        else:
            self._to_notify.extend(events)

    async def _notify_in_background(self) -> None:
        """A history from before the outbox: a `notify` activity per event, not awaited."""
        while self._to_notify:
            task = asyncio.create_task(sending.notify(self._to_notify.pop(0)))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _settle(self) -> None:
        """Before continue-as-new or completion: no update, notification or delivery left behind."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._notify_in_background()
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

    def __init__(self, lifecycle: ActivityLifecycle, change: bool) -> None:
        self._lifecycle = lifecycle
        self._change = change

    async def __aenter__(self) -> None:
        await self._lifecycle._lock.acquire()
        self._lifecycle._busy = self._change
        self._lifecycle._updates += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._lifecycle._busy = False
        self._lifecycle._lock.release()
