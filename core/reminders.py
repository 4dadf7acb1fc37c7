"""When to remind and escalate about a stage due date: pure functions the workflow calls each wake-up.

Reminders go to the lead before the due date and on the day; once overdue the coordinators group is
escalated to after `escalate_after_days` and then every `escalate_every_days`, and from
`management_after_days` on the joint management group as well, until the stage changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class ReminderKind(StrEnum):
    BEFORE = "before"
    DUE = "due"
    SNOOZED = "snoozed"
    ESCALATION = "escalation"
    MANAGEMENT = "management"


@dataclass(frozen=True)
class ReminderPolicy:
    days_before: tuple[int, ...] = (14, 3, 0)
    escalate_after_days: int = 7
    escalate_every_days: int = 7
    management_after_days: int = 30
    time_of_day: time = time(9, 0)  # UTC


@dataclass(frozen=True)
class Reminder:
    kind: ReminderKind
    fire_at: datetime
    days_from_due: int  # negative before the due date

    @property
    def label(self) -> str:
        """Stable within one stage entry and due date; part of idempotency keys."""
        return f"{self.kind.value}{self.days_from_due:+d}"

    @property
    def to_lead(self) -> bool:
        return self.kind in (ReminderKind.BEFORE, ReminderKind.DUE, ReminderKind.SNOOZED)


def fire_time(day: date, policy: ReminderPolicy) -> datetime:
    return datetime.combine(day, policy.time_of_day, tzinfo=UTC)


def plan(due_on: date, policy: ReminderPolicy, snoozed_until: date | None = None) -> Iterator[Reminder]:
    """Every reminder for `due_on` in time order (endless: escalation repeats until the stage changes)."""
    lead_reminders = []
    for days in sorted(set(policy.days_before), reverse=True):
        day = due_on - timedelta(days=days)
        if snoozed_until is not None and day < snoozed_until:
            continue
        kind = ReminderKind.DUE if days == 0 else ReminderKind.BEFORE
        lead_reminders.append(Reminder(kind, fire_time(day, policy), -days))
    if snoozed_until is not None:
        lead_reminders.append(
            Reminder(ReminderKind.SNOOZED, fire_time(snoozed_until, policy), (snoozed_until - due_on).days)
        )
    yield from sorted(lead_reminders, key=lambda r: (r.fire_at, r.kind != ReminderKind.SNOOZED))

    escalations = _escalation_days(policy)
    for days in escalations:
        kind = ReminderKind.MANAGEMENT if days >= policy.management_after_days else ReminderKind.ESCALATION
        yield Reminder(kind, fire_time(due_on + timedelta(days=days), policy), days)


def _escalation_days(policy: ReminderPolicy) -> Iterator[int]:
    """Escalation days after the due date; the management threshold is always one of them."""
    days = policy.escalate_after_days
    management_added = False
    while True:
        if not management_added and days > policy.management_after_days:
            management_added = True
            yield policy.management_after_days
        if days == policy.management_after_days:
            management_added = True
        yield days
        days += max(policy.escalate_every_days, 1)


@dataclass(frozen=True)
class Wakeup:
    """What the workflow does now (`fire`, the latest missed reminder) and when it wakes next."""

    fire: Reminder | None
    next_at: datetime | None


def next_wakeup(
    due_on: date | None,
    policy: ReminderPolicy,
    *,
    watermark: datetime,
    now: datetime,
    snoozed_until: date | None = None,
) -> Wakeup:
    """Reminders after `watermark` up to `now` collapse into the latest one: a worker that was down
    for a week sends one escalation, not seven."""
    if due_on is None:
        return Wakeup(None, None)
    fire: Reminder | None = None
    for reminder in plan(due_on, policy, snoozed_until):
        if reminder.fire_at <= watermark:
            continue
        if reminder.fire_at <= now:
            fire = reminder
            continue
        return Wakeup(fire, reminder.fire_at)
    return Wakeup(fire, None)  # pragma: no cover - the plan is endless
