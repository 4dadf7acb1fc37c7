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
    """`key` is unique per event (workflow id + run-independent sequence), so deliveries are idempotent."""

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
