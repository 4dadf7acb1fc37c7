"""The one write path for a stage change: append the transition, update the activity row and its
count (models.counts) in the same DB transaction, idempotent on (activity, seq). Nothing else
writes `Activity.stage`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.stages import Stage
from models import Activity, Transition, activity_conventions
from models.counts import CountKey, shift_count


@dataclass(frozen=True)
class TransitionRecord:
    activity_id: int
    seq: int
    from_stage: Stage | None
    to_stage: Stage
    actor_id: int | None
    at: datetime
    reason: str | None = None
    meeting_id: int | None = None
    due_on: date | None = None
    expected_version: int | None = None
    request_key: str | None = None
    request_hash: str | None = None


WRITTEN_COLUMNS = (
    "stage",
    "stage_entered_at",
    "stage_due_on",
    "transition_count",
    "version",
    "updated_at",
    "closed_at_meeting_id",
)
"""The activity columns `record_transition` writes: what a caller reads back after a move."""


async def record_transition(session: AsyncSession, record: TransitionRecord) -> tuple[Transition, int]:
    """Write `record` once; a replay of the same request (same activity, seq and request key)
    returns the stored row.

    Returns the transition and the activity's version after it. Raises `Conflict` when the activity
    moved on since (its transition count or version is not what the caller expected), including
    when another request's write holds this seq: that row is never handed to this request.
    """
    counted = await _counted_key(session, record.activity_id)
    if counted is None:
        raise NotFound(f"activity {record.activity_id} does not exist")
    old_key, read_version = counted
    # Every write to the row bumps its version: if it is unchanged, `old_key` is the stored key.
    conditions = [
        Activity.id == record.activity_id,
        Activity.transition_count == record.seq - 1,
        Activity.version == read_version,
    ]
    if record.expected_version is not None:
        conditions.append(Activity.version == record.expected_version)
    values: dict[str, object] = {
        "stage": record.to_stage,
        "stage_entered_at": record.at,
        "stage_due_on": record.due_on,
        "transition_count": record.seq,
        "version": Activity.version + 1,
        "updated_at": record.at,
    }
    if record.to_stage is Stage.CLOSED:
        values["closed_at_meeting_id"] = record.meeting_id
    result = await session.execute(
        update(Activity)
        .where(*conditions)
        .values(**values)
        .returning(Activity.version)
        .execution_options(synchronize_session=False)
    )
    new_version = result.scalar_one_or_none()
    if new_version is None:
        existing = await session.scalar(
            select(Transition).where(
                Transition.activity_id == record.activity_id, Transition.seq == record.seq
            )
        )
        if existing is not None and record.request_key and existing.request_key == record.request_key:
            return existing, read_version  # a replay of this request: the first write stands
        raise Conflict(
            f"activity {record.activity_id} changed since version "
            f"{record.expected_version or read_version}; "
            "fetch it again",
            code="stale_version",
        )
    transition = Transition(
        activity_id=record.activity_id,
        seq=record.seq,
        from_stage=record.from_stage,
        to_stage=record.to_stage,
        actor_id=record.actor_id,
        at=record.at,
        reason=record.reason,
        meeting_id=record.meeting_id,
        due_on=record.due_on,
        request_key=record.request_key,
        request_hash=record.request_hash,
    )
    session.add(transition)
    await session.flush()
    # Last: every move between the same two keys updates the same count rows, so their row
    # locks are held for as short a time as possible (until the caller's commit).
    await shift_count(session, old_key, replace(old_key, stage=str(record.to_stage)))
    return transition, int(new_version)


async def _counted_key(session: AsyncSession, activity_id: int) -> tuple[CountKey, int] | None:
    """The activity's count key and its row version (None when the activity does not exist)."""
    rows = (
        await session.execute(
            select(
                Activity.stage,
                Activity.thematic_group_id,
                Activity.target_meeting_id,
                Activity.version,
                activity_conventions.c.convention_code,
            )
            .outerjoin(activity_conventions, activity_conventions.c.activity_id == Activity.id)
            .where(Activity.id == activity_id)
        )
    ).all()
    if not rows:
        return None
    stage, group_id, meeting_id, version, _ = rows[0]
    codes = [row.convention_code for row in rows if row.convention_code is not None]
    return CountKey.of(stage, group_id, meeting_id, codes), version


@dataclass(frozen=True)
class LifecycleRow:
    """The activity's lifecycle fields as the database holds them, and the transitions written
    after a given seq: what a workflow that fell behind adopts."""

    stage: Stage
    version: int
    seq: int
    due_on: date | None
    lead_id: int | None
    conventions: list[str]
    thematic_group_id: int | None
    transitions: list[Transition]


async def lifecycle_row(session: AsyncSession, activity_id: int, after_seq: int) -> LifecycleRow:
    activity = await session.get(Activity, activity_id, populate_existing=True)
    if activity is None:
        raise NotFound(f"activity {activity_id} does not exist")
    transitions = await session.scalars(
        select(Transition)
        .where(Transition.activity_id == activity_id, Transition.seq > after_seq)
        .order_by(Transition.seq)
    )
    return LifecycleRow(
        stage=Stage(activity.stage),
        version=activity.version,
        seq=activity.transition_count,
        due_on=activity.stage_due_on,
        lead_id=activity.lead_id,
        conventions=activity.convention_codes,
        thematic_group_id=activity.thematic_group_id,
        transitions=list(transitions),
    )


async def recorded_transition(session: AsyncSession, activity_id: int, request_key: str) -> Transition | None:
    """The transition a request wrote, if it was written (the database decides, not the engine)."""
    return await session.scalar(
        select(Transition).where(Transition.activity_id == activity_id, Transition.request_key == request_key)
    )
