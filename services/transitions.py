"""The one write path for a stage change: append the transition, update the activity row, its
count (models.counts) and the log's rollups (models.rollups) in the same DB transaction,
idempotent on (activity, seq). Nothing else writes `Activity.stage`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.events import NotificationEvent
from core.stages import Stage
from models import Activity, Transition, activity_conventions, activity_provisions, utcnow
from models.counts import CountKey, shift_count
from models.rollups import move_deltas, record_move
from services.outbox import enqueue


@dataclass(frozen=True)
class TransitionRecord:
    """One stage change as it is written: the lifecycle workflow's `record_transition` activity
    takes it as its input (workflows.activities), the seed and the first transition of a new
    activity pass it here directly.

    `expected_version`: the activity's version the move was asked from (None: only the
    transition count guards the write); see `workflows.messages.MoveCommand` for where else it
    is checked. `request_key` / `request_hash`: the request that made the move and its body,
    which make a replay of that request find its own row (docs/temporal.md)."""

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
    notification: NotificationEvent | None = None
    """The event that announces the move, written to the outbox with the move (its
    `transition_id` filled in here): no move without its notification, and none without a move."""


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
        .returning(Activity.version, Activity.created_at)
        .execution_options(synchronize_session=False)
    )
    written = result.one_or_none()
    if written is None:
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
    if record.notification is not None:
        await enqueue(session, [replace(record.notification, transition_id=transition.id)], utcnow())
    new_version, created_at = written
    entered_at, started_at, earlier_arrival = created_at, created_at, None
    if record.seq > 1:
        previous_at, creation_at, earlier_arrival = await _earlier_moments(session, record)
        entered_at, started_at = previous_at or created_at, creation_at or created_at
    provision_ids: list[int] = []
    if old_key.stage != str(record.to_stage):
        provision_ids = list(
            await session.scalars(
                select(activity_provisions.c.provision_id).where(
                    activity_provisions.c.activity_id == record.activity_id
                )
            )
        )
    # Last: every move between the same two keys updates the same count rows, so their row
    # locks are held for as short a time as possible (until the caller's commit). Always in this
    # order (counts, then the rollups' rows in key order, "*" and the activity's conventions key):
    # no two writers wait on each other crosswise (the flush hooks of an edit or a deletion too).
    await shift_count(session, old_key, replace(old_key, stage=str(record.to_stage)))
    await record_move(
        session,
        move_deltas(
            at=record.at,
            seq=record.seq,
            from_stage=None if record.from_stage is None else str(record.from_stage),
            to_stage=str(record.to_stage),
            entered_at=entered_at,
            created_at=created_at,
            started_at=started_at,
            earlier_arrival_at=earlier_arrival,
            stage_before=old_key.stage,
            conventions=old_key.conventions_key,
            provision_ids=provision_ids,
        ),
    )
    return transition, int(new_version)


async def _earlier_moments(
    session: AsyncSession, record: TransitionRecord
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """From the activity's earlier transitions (a few rows of the (activity_id, seq) key): the
    previous one's `at` (where the stay this move ends began), its recorded creation's (where its
    cycle time starts) and its first arrival in `record.to_stage` (models.rollups)."""
    first_arrival = and_(Transition.to_stage == record.to_stage, Transition.from_stage.is_not(None))
    creation = and_(Transition.seq == 1, Transition.from_stage.is_(None))
    row = (
        await session.execute(
            select(
                func.max(case((Transition.seq == record.seq - 1, Transition.at))),
                func.max(case((creation, Transition.at))),
                func.min(case((first_arrival, Transition.at))),
            ).where(Transition.activity_id == record.activity_id, Transition.seq < record.seq)
        )
    ).one()
    return row[0], row[1], row[2]


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
