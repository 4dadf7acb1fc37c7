"""Overdue and due soon: open activities by due bucket, with their pending reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, and_, case, distinct, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.stages import OPEN_STAGES, Stage
from models import Activity, Body, Person, ReminderEvent
from services import dashboard
from services.oversight.filters import (
    _ACTIVITY_COLUMNS,
    DUE_SOON_DAYS,
    ESCALATIONS,
    LEAD_REMINDERS,
    OversightFilter,
    PageRequest,
    Table,
    _Schema,
    _table,
    _with_lead_and_group,
)


class DueBucket(StrEnum):
    """Disjoint: past due, due today, in 1-3 days, in 4-14 days (the lead's reminder horizons)."""

    OVERDUE = "overdue"
    TODAY = "today"
    WITHIN_3 = "3"
    WITHIN_14 = "14"

    @property
    def label(self) -> str:
        return DUE_BUCKET_LABELS[self]

    def days(self) -> tuple[int | None, int]:
        """Days from `as_of` to the due date, as (first, last), both inclusive; None: unbounded."""
        return {
            DueBucket.OVERDUE: (None, -1),
            DueBucket.TODAY: (0, 0),
            DueBucket.WITHIN_3: (1, 3),
            DueBucket.WITHIN_14: (4, DUE_SOON_DAYS),
        }[self]

    def clause(self, as_of: date) -> ColumnElement[bool]:
        first, last = self.days()
        upper = Activity.stage_due_on <= as_of + timedelta(days=last)
        if first is None:
            return upper
        return and_(Activity.stage_due_on >= as_of + timedelta(days=first), upper)


DUE_BUCKET_LABELS = {
    DueBucket.OVERDUE: "Overdue",
    DueBucket.TODAY: "Due today",
    DueBucket.WITHIN_3: "Due in 1 to 3 days",
    DueBucket.WITHIN_14: f"Due in 4 to {DUE_SOON_DAYS} days",
}


def _unacknowledged(kinds: Sequence[str]) -> list[ColumnElement[bool]]:
    """Reminders of these kinds about the activity's current stage and due date, not acknowledged
    (reminders of an earlier stay are history, not pending)."""
    return [
        ReminderEvent.activity_id == Activity.id,
        ReminderEvent.stage == Activity.stage,
        ReminderEvent.due_on == Activity.stage_due_on,
        ReminderEvent.kind.in_(kinds),
        ReminderEvent.acknowledged_at.is_(None),
    ]


def _reminders_pending(kinds: Sequence[str]) -> ColumnElement[bool]:
    """The activity has an unacknowledged reminder of these kinds."""
    return exists().where(*_unacknowledged(kinds))


def _reminders_count(kinds: Sequence[str]) -> Any:
    return select(func.count()).where(*_unacknowledged(kinds)).correlate(Activity).scalar_subquery()


class DueBucketCount(_Schema):
    bucket: DueBucket
    label: str
    count: int
    unacknowledged_reminders: int = Field(
        description="activities with a reminder to the lead not acknowledged"
    )
    unacknowledged_escalations: int = Field(description="activities with an escalation not acknowledged")


class DueItem(_Schema):
    id: int
    title: str
    stage: Stage
    due_on: date
    days_left: int = Field(description="negative: days overdue")
    lead_id: int | None
    lead_name: str | None
    thematic_group: str | None
    unacknowledged_reminders: int
    unacknowledged_escalations: int


class DueView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "buckets": [
                        {
                            "bucket": "overdue",
                            "label": "Overdue",
                            "count": 1,
                            "unacknowledged_reminders": 0,
                            "unacknowledged_escalations": 0,
                        }
                    ],
                    "bucket": None,
                    "total": 3,
                    "page": 1,
                    "per_page": 1,
                    "items": [
                        {
                            "id": 27,
                            "title": "Membership of the Minamata secretariat in IOMC",
                            "stage": "task_team",
                            "due_on": "2026-12-05",
                            "days_left": -2,
                            "lead_id": 5,
                            "lead_name": "Keiko Tanaka",
                            "thematic_group": (
                                "Inter-secretariat thematic group on joint inputs into other processes"
                            ),
                            "unacknowledged_reminders": 1,
                            "unacknowledged_escalations": 0,
                        }
                    ],
                }
            ]
        }
    )

    as_of: date
    buckets: list[DueBucketCount]
    bucket: DueBucket | None = Field(description="the bucket the list shows; all four when null")
    total: int = Field(description="activities in the list, all pages")
    page: int
    per_page: int
    items: list[DueItem]

    def table(self) -> Table:
        return _table(
            self.items, *_ACTIVITY_COLUMNS, "unacknowledged_reminders", "unacknowledged_escalations"
        )


def _open() -> ColumnElement[bool]:
    return Activity.stage.in_([stage.value for stage in OPEN_STAGES])


def _horizon(as_of: date) -> ColumnElement[bool]:
    return Activity.stage_due_on <= as_of + timedelta(days=DUE_SOON_DAYS)


async def due_counts(session: AsyncSession, where: OversightFilter, *, as_of: date) -> list[DueBucketCount]:
    """The open activities of each bucket, with those that have a reminder or an escalation
    pending (the overview shows these alone). Two reads: the buckets from the activities' due
    dates (ix_activities_stage_due), and the pending reminders from their side, joined to their
    activities: not two probes of the reminders per activity (3x slower at 100,000 activities)."""
    where = await dashboard.keyed(session, where)
    bucket_of = case(*((b.clause(as_of), literal(b.value)) for b in DueBucket), else_=literal(None))
    in_view = (_open(), _horizon(as_of), *where.clauses())
    counted: dict[str, int] = {
        bucket: int(count)
        for bucket, count in await session.execute(
            select(bucket_of, func.count()).where(*in_view).group_by(bucket_of)
        )
    }

    def activities_with(kinds: Sequence[str]) -> Any:
        return func.count(distinct(case((ReminderEvent.kind.in_(kinds), Activity.id))))

    pending = {
        bucket: (int(reminded), int(escalated))
        for bucket, reminded, escalated in await session.execute(
            select(bucket_of, activities_with(LEAD_REMINDERS), activities_with(ESCALATIONS))
            .select_from(ReminderEvent)
            .join(Activity, and_(*_unacknowledged([*LEAD_REMINDERS, *ESCALATIONS])))
            .where(*in_view)
            .group_by(bucket_of)
        )
    }
    return [
        DueBucketCount(
            bucket=b,
            label=b.label,
            count=counted.get(b.value, 0),
            unacknowledged_reminders=pending.get(b.value, (0, 0))[0],
            unacknowledged_escalations=pending.get(b.value, (0, 0))[1],
        )
        for b in DueBucket
    ]


async def due(
    session: AsyncSession,
    where: OversightFilter,
    *,
    as_of: date,
    bucket: DueBucket | None,
    page: PageRequest,
) -> DueView:
    """Counts per bucket (with pending reminders and escalations), and one page of the activities
    of `bucket` (or of all four), soonest due first: the most overdue lead the list."""
    where = await dashboard.keyed(session, where)
    buckets = await due_counts(session, where, as_of=as_of)
    listed = bucket.clause(as_of) if bucket else _horizon(as_of)
    group = aliased(Body)
    listing = select(
        Activity.id,
        Activity.title,
        Activity.stage,
        Activity.stage_due_on,
        Activity.lead_id,
        Person.name,
        group.name,
        _reminders_count(LEAD_REMINDERS),
        _reminders_count(ESCALATIONS),
    )
    rows = await session.execute(
        page.of(
            _with_lead_and_group(listing, group)
            .where(_open(), listed, *where.clauses())
            .order_by(Activity.stage_due_on, Activity.id)
        )
    )
    items = [
        DueItem(
            id=id_,
            title=title,
            stage=Stage(stage),
            due_on=due_on,
            days_left=(due_on - as_of).days,
            lead_id=lead_id,
            lead_name=lead_name,
            thematic_group=group_name,
            unacknowledged_reminders=int(reminders),
            unacknowledged_escalations=int(escalations),
        )
        for id_, title, stage, due_on, lead_id, lead_name, group_name, reminders, escalations in rows
    ]
    total = next((c.count for c in buckets if c.bucket is bucket), None) if bucket else None
    if total is None:
        total = sum(c.count for c in buckets)
    return DueView(
        as_of=as_of,
        buckets=buckets,
        bucket=bucket,
        total=total,
        page=page.page,
        per_page=page.per_page,
        items=items,
    )
