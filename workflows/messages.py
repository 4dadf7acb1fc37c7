"""Inputs and outputs of the lifecycle workflow and its activities (dataclasses, pydantic-converted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.events import NotificationEvent
from core.reminders import ReminderPolicy
from core.stages import ActivityFacts, Role, Stage


@dataclass
class LifecycleState:
    """Everything the workflow carries, including across continue-as-new."""

    activity_id: int
    stage: Stage
    version: int
    seq: int
    due_on: date | None = None
    lead_id: int | None = None
    conventions: list[str] = field(default_factory=list)
    thematic_group_id: int | None = None
    stage_due_days: dict[str, int] = field(default_factory=dict)
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)
    reminder_watermark: datetime | None = None
    snoozed_until: date | None = None
    search_attributes: bool = True
    # The server caps a run at 2,000 updates; a new run (continue-as-new) starts well before.
    max_updates_per_run: int = 500
    # Writes found in the database but not made by this history (their workflow task was
    # dropped after the commit), by request key -> transition id: their own request, arriving
    # again, is answered with them. The latest few only.
    adopted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MoveCommand:
    """A move as its client asks for it (the body of POST /activities/{id}/transitions, a web
    form, a bulk item): `workflows.commands.move_activity` takes it, and `MoveRequest` carries it
    to the workflow.

    `expected_version` is checked three times, each for a reason of its own:
    1. by the API (`workflows.commands`, against the row it has just read): a stale client gets its
       409 without a round trip to the engine;
    2. by the workflow (`ActivityLifecycle._check_move`, in the update's validator and again in
       its handler): against the history's state, before anything is written; the validator
       refuses the update without a trace in history, the handler checks again under the lock
       (another update may have gone first, or the handler has just adopted a write it lacked);
    3. by the database (`services.transitions.record_transition`, in the UPDATE's WHERE): the
       database has the last word; a write this history does not know of (an edit, a move whose
       workflow task was lost) turns the move into a `stale_version` conflict, and the workflow
       adopts what the database holds.
    The first two answer early and clearly; only the third makes the guarantee.
    """

    to: Stage
    expected_version: int
    reason: str | None = None
    meeting_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class MoveRequest(MoveCommand):
    """The `move` Update: the command and what the API read for the workflow's validator (who
    asks, the facts the guards need, the meeting's deadline) and the hash of the command that
    the transition row keeps (`workflows.commands.move_body_hash`)."""

    actor_id: int
    role: Role
    facts: ActivityFacts
    target_meeting_deadline: date | None = None
    request_hash: str | None = None


@dataclass
class EditRequest:
    """Changes to the activity row; `changes` holds validated column values and relation lists."""

    actor_id: int
    expected_version: int
    changes: dict[str, Any]


@dataclass
class MeetingChange:
    meeting_id: int
    document_deadline: date


@dataclass
class SnoozeRequest:
    actor_id: int
    until: date
    note: str | None = None


@dataclass
class AcknowledgeRequest:
    actor_id: int
    note: str | None = None


@dataclass
class Outcome:
    """What an update answers: the activity's lifecycle fields after the change."""

    activity_id: int
    stage: Stage
    version: int
    seq: int
    due_on: date | None
    transition_id: int | None = None
    # A move this history wrote (not one it adopted): the row as `record_transition` stored it,
    # so that the API answers without reading it back. None on every other path, and from
    # workers older than this field.
    written: TransitionOutput | None = None


# --- activity inputs ---------------------------------------------------------------------------


@dataclass
class TransitionOutput:
    transition_id: int
    version: int
    # The stored row's own fields (those of the first write when this one replays it); None
    # from workers older than these fields.
    at: datetime | None = None
    from_stage: Stage | None = None
    due_on: date | None = None
    actor_id: int | None = None
    reason: str | None = None
    meeting_id: int | None = None
    request_hash: str | None = None


@dataclass
class RecordedTransition:
    transition_id: int
    seq: int
    from_stage: Stage | None
    to_stage: Stage
    actor_id: int | None
    reason: str | None
    request_key: str | None


@dataclass
class SnapshotInput:
    activity_id: int
    after_seq: int


@dataclass
class LifecycleSnapshot:
    """The activity as the database holds it, with the transitions after the workflow's seq."""

    stage: Stage
    version: int
    seq: int
    due_on: date | None
    lead_id: int | None
    conventions: list[str]
    thematic_group_id: int | None
    transitions: list[RecordedTransition]


@dataclass
class EditInput:
    activity_id: int
    expected_version: int
    changes: dict[str, Any]
    actor_id: int | None


@dataclass
class EditOutput:
    version: int
    due_on: date | None
    lead_id: int | None
    conventions: list[str]
    thematic_group_id: int | None


@dataclass
class ReminderInput:
    key: str
    activity_id: int
    stage: Stage
    kind: str
    due_on: date
    fired_at: datetime
    notification: NotificationEvent | None = None
    """Written to the outbox with the reminder."""


@dataclass
class ReminderResponseInput:
    activity_id: int
    stage: Stage
    actor_id: int
    at: datetime
    snoozed_until: date | None = None
    note: str | None = None
