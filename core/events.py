"""Events the lifecycle workflow hands to the notification activities (plain, serialisable data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class EventType(StrEnum):
    TRANSITION = "transition"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    DUE_DATE_CHANGED = "due_date_changed"
    REPORT_READY = "report_ready"


class Audience(StrEnum):
    """Who must hear of an event whatever their subscriptions say."""

    COORDINATORS = "coordinators_group"
    MANAGEMENT = "joint_management_group"
    LEAD = "lead"
    WATCHERS = "watchers"


@dataclass(frozen=True)
class NotificationEvent:
    """`key` is unique per event (workflow id + run-independent sequence), so deliveries are idempotent.

    `title` and `body` are the workflow's own words, kept in the feed entry's payload; what people
    read is rendered when the event is planned, from these fields and the database
    (services/notification_messages.py): a move's actor, stages and reason come from
    actor_id/from_stage/to_stage/reason, else from the transition row (`transition_id`, else the
    `/t{seq}` key); a reminder's days from its key's label (`before-14`, `escalation+7`, ...); a
    due-date change's earlier date from `data["previous_due_on"]`, else from `body`.
    """

    key: str
    type: EventType
    title: str
    body: str
    activity_id: int | None = None
    stage: str | None = None
    conventions: tuple[str, ...] = ()
    thematic_group_id: int | None = None
    audiences: tuple[Audience, ...] = ()
    due_on: date | None = None
    link: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    # What happened, for messages rendered at delivery time (who, from -> to, why).
    actor_id: int | None = None
    from_stage: str | None = None
    to_stage: str | None = None
    reason: str | None = None
    transition_id: int | None = None
