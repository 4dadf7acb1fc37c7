"""Oversight dashboard queries: every figure is an aggregate computed by the database.

Python only walks the *aggregated* rows (one per stage × bucket, never one per activity or
transition), except for the percentile fallback on SQLite, which reads one float per stay.

Where an activity starts: its first transition when that transition has no `from_stage` (a
recorded creation), otherwise `activities.created_at` in the stage that first transition left
(or its current stage when it never moved). The same rule feeds the cumulative flow, the time in
the first stage and the cycle times, so the figures agree with each other.

Dates are UTC calendar dates; a date range `[start, end]` is inclusive of both days.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    FromClause,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.errors import DomainError
from core.stages import OPEN_STAGES, Stage
from models import Activity, ActivityCount, Body, Meeting, Person, Transition, activity_conventions
from models.counts import NO_ID, convention_codes
from models.reference import DOCUMENT_DEADLINE_BEFORE_OPENING, meeting_conventions

ALL_STAGES: tuple[Stage, ...] = (*OPEN_STAGES, Stage.CLOSED, Stage.WITHDRAWN)
MAX_BUCKETS = 1000
MAX_LIST = 5000


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"


@dataclass(frozen=True)
class DashboardFilter:
    """Which activities a figure covers; empty fields match everything."""

    conventions: tuple[str, ...] = ()
    thematic_group_ids: tuple[int, ...] = ()
    meeting_ids: tuple[int, ...] = ()

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.conventions:
            # EXISTS, a probe of the (activity_id, convention_code) key per activity, not IN: SQLite
            # builds an IN list of every matching activity first, and then cannot read the
            # transitions newest first and stop at a page (0.13 s against 1 ms at 100,000).
            # Its own alias, correlated to the activity only: a query that joins the conventions
            # itself keeps its join.
            probe = activity_conventions.alias("convention_probe")
            clauses.append(
                exists()
                .where(probe.c.activity_id == Activity.id, probe.c.convention_code.in_(self.conventions))
                .correlate(Activity)
            )
        if self.thematic_group_ids:
            clauses.append(Activity.thematic_group_id.in_(self.thematic_group_ids))
        if self.meeting_ids:
            clauses.append(Activity.target_meeting_id.in_(self.meeting_ids))
        return clauses

    def count_clauses(self, counts: FromClause) -> list[ColumnElement[bool]]:
        """The thematic group and meeting filters on the counts table (where NO_ID is "none", which
        no filter id names); conventions are matched on the key by the caller."""
        clauses: list[ColumnElement[bool]] = []
        if self.thematic_group_ids:
            clauses.append(counts.c.thematic_group_id.in_([i for i in self.thematic_group_ids if i != NO_ID]))
        if self.meeting_ids:
            clauses.append(counts.c.target_meeting_id.in_([i for i in self.meeting_ids if i != NO_ID]))
        return clauses


def utc_today() -> date:
    return datetime.now(UTC).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# --- dialect helpers ------------------------------------------------------------------------------


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _day_of(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _week_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """The Monday that starts the ISO week of `column` (UTC)."""
    if dialect == "postgresql":
        return cast(func.date_trunc("week", func.timezone("UTC", column)), Date)
    return func.date(column, "weekday 0", "-6 days")


def _bucket_of(column: Any, interval: Interval, dialect: str) -> ColumnElement[Any]:
    return _day_of(column, dialect) if interval is Interval.DAY else _week_of(column, dialect)


def _days_between(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    """Days from `start` to `end`, never negative: a row dated before the one it follows (clock
    skew between writers, or dates an earlier version shifted) counts as no time, not less."""
    if dialect == "postgresql":
        return func.greatest(cast(func.extract("epoch", end - start), Float) / 86400.0, 0.0)
    return func.max(cast(func.julianday(end) - func.julianday(start), Float), 0.0)


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL percentile_cont, numpy default)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(sorted_values[low])
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low))


STAGE_ORDER = {stage: rank for rank, stage in enumerate(ALL_STAGES)}


# --- summary --------------------------------------------------------------------------------------


@dataclass
class SummaryCell:
    stage: Stage
    convention: str | None
    thematic_group_id: int | None
    thematic_group_code: str | None
    thematic_group_name: str | None
    count: int


@dataclass
class Summary:
    total: int
    by_stage: dict[Stage, int]
    by_convention: dict[str, dict[Stage, int]]
    cells: list[SummaryCell]

    @classmethod
    def of(cls, cells: list[SummaryCell], by_stage: dict[Stage, int]) -> Summary:
        """Sorts the cells and sums them per convention."""
        cells.sort(
            key=lambda c: (
                STAGE_ORDER[c.stage],
                c.convention or "",
                c.thematic_group_code or "",
                c.thematic_group_id or 0,
            )
        )
        by_convention: dict[str, dict[Stage, int]] = {}
        for cell in cells:
            if cell.convention is None:
                continue
            per_stage = by_convention.setdefault(cell.convention, dict.fromkeys(ALL_STAGES, 0))
            per_stage[cell.stage] += cell.count
        return cls(sum(by_stage.values()), by_stage, dict(sorted(by_convention.items())), cells)


async def summary(session: AsyncSession, where: DashboardFilter) -> Summary:
    """Counts by stage × convention × thematic group; an activity counts once under each of its
    conventions in the cells (only those in the filter, when it names some), and once in
    `by_stage`. Read from the counts table (models.counts), a few thousand rows whatever the
    number of activities."""
    # Table columns, not mapped attributes: the ORM's per-statement work was a sixth of the time.
    counts, bodies = ActivityCount.__table__, Body.__table__
    rows = await session.execute(
        select(
            counts.c.stage,
            counts.c.thematic_group_id,
            counts.c.conventions_key,
            bodies.c.code,
            bodies.c.name,
            func.sum(counts.c.count),
        )
        .outerjoin(bodies, bodies.c.id == counts.c.thematic_group_id)
        .where(*where.count_clauses(counts))
        .group_by(
            counts.c.stage,
            counts.c.thematic_group_id,
            counts.c.conventions_key,
            bodies.c.code,
            bodies.c.name,
        )
    )
    wanted = set(where.conventions)
    cell_conventions: dict[str, list[str | None]] = {}  # per key: none when the filter skips it

    def conventions_of(key: str) -> list[str | None]:
        if key not in cell_conventions:
            codes = convention_codes(key)
            matching: list[str | None] = [code for code in codes if not wanted or code in wanted]
            cell_conventions[key] = matching or ([] if wanted else [None])
        return cell_conventions[key]

    by_stage = dict.fromkeys(ALL_STAGES, 0)
    cells: dict[tuple[Stage, str | None, int | None, str | None, str | None], int] = defaultdict(int)
    for stage, group_id, key, code, name, count in rows:
        conventions = conventions_of(key)
        if not conventions or not count:
            continue
        by_stage[stage] += count
        for convention in conventions:
            cells[(stage, convention, group_id or None, code, name)] += count
    return Summary.of([SummaryCell(*cell, count) for cell, count in cells.items()], by_stage)


# --- overdue and due soon -------------------------------------------------------------------------


@dataclass
class DueItem:
    id: int
    title: str
    stage: Stage
    due_on: date
    days: int  # overdue: days past due (> 0); due soon: days left (>= 0)
    lead_id: int | None
    lead_name: str | None
    thematic_group_id: int | None


@dataclass
class DueList:
    as_of: date
    total: int
    items: list[DueItem]


async def _due_list(
    session: AsyncSession,
    where: DashboardFilter,
    condition: ColumnElement[bool],
    *,
    as_of: date,
    overdue: bool,
    limit: int,
) -> DueList:
    clauses = [Activity.stage.in_(OPEN_STAGES), condition, *where.clauses()]
    total = await session.scalar(select(func.count()).select_from(Activity).where(*clauses))
    rows = await session.execute(
        select(
            Activity.id,
            Activity.title,
            Activity.stage,
            Activity.stage_due_on,
            Activity.lead_id,
            Person.name,
            Activity.thematic_group_id,
        )
        .outerjoin(Person, Person.id == Activity.lead_id)
        .where(*clauses)
        .order_by(Activity.stage_due_on, Activity.id)
        .limit(min(limit, MAX_LIST))
    )
    items = []
    for id_, title, stage, due_on, lead_id, lead_name, group_id in rows:
        assert due_on is not None  # the conditions compare it with a date
        days = (as_of - due_on).days if overdue else (due_on - as_of).days
        items.append(DueItem(id_, title, Stage(stage), due_on, days, lead_id, lead_name, group_id))
    return DueList(as_of, int(total or 0), items)


async def overdue(session: AsyncSession, where: DashboardFilter, *, as_of: date, limit: int = 500) -> DueList:
    """Open activities whose stage due date is before `as_of` (uses ix_activities_stage_due)."""
    return await _due_list(
        session, where, Activity.stage_due_on < as_of, as_of=as_of, overdue=True, limit=limit
    )


async def due_soon(
    session: AsyncSession, where: DashboardFilter, *, as_of: date, days: int, limit: int = 500
) -> DueList:
    """Open activities due between `as_of` and `as_of + days`, both inclusive."""
    condition = Activity.stage_due_on.between(as_of, as_of + timedelta(days=days))
    return await _due_list(session, where, condition, as_of=as_of, overdue=False, limit=limit)


# --- stage times ----------------------------------------------------------------------------------


@dataclass
class Distribution:
    stage: Stage
    count: int
    median_days: float | None
    p90_days: float | None
    mean_days: float | None


@dataclass
class StageTimes:
    time_in_stage: list[Distribution]
    cycle_time: list[Distribution]


def _range_clauses(column: Any, start: date | None, end: date | None) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if start is not None:
        clauses.append(column >= start_of(start))
    if end is not None:
        clauses.append(column < start_of(end + timedelta(days=1)))
    return clauses


async def _distributions(session: AsyncSession, durations: Select[Any]) -> list[Distribution]:
    """`durations` selects (stage, days); returns count, median, p90 and mean per stage."""
    sub = durations.subquery()
    stage_col, days_col = sub.c.stage, sub.c.days
    results: dict[Stage, Distribution] = {}
    if _dialect(session) == "postgresql":
        rows = await session.execute(
            select(
                stage_col,
                func.count(),
                func.percentile_cont(0.5).within_group(days_col),
                func.percentile_cont(0.9).within_group(days_col),
                func.avg(days_col),
            ).group_by(stage_col)
        )
        for stage, count, median, p90, mean in rows:
            results[Stage(stage)] = Distribution(
                Stage(stage), int(count), float(median), float(p90), float(mean)
            )
    else:
        # SQLite has no percentile aggregate: stream one float per stay, already sorted.
        grouped: dict[str, list[float]] = defaultdict(list)
        result = await session.stream(select(stage_col, days_col).order_by(stage_col, days_col))
        async for stage, days in result:
            grouped[stage].append(float(days))
        for stage, values in grouped.items():
            results[Stage(stage)] = Distribution(
                Stage(stage),
                len(values),
                percentile(values, 0.5),
                percentile(values, 0.9),
                sum(values) / len(values),
            )
    return [results[stage] for stage in ALL_STAGES if stage in results]


def time_in_stage_durations(
    where: DashboardFilter, dialect: str, *, start: date | None, end: date | None
) -> Select[Any]:
    """(stage, days) for each completed stay that ended within the range: from entering a stage
    (the activity's previous transition, by seq, or its creation) to the transition that left it.
    A join on (activity_id, seq - 1) rather than a window over the whole log: only the range's
    transitions are read (ix_transitions_at), each finding its predecessor by the unique index."""
    previous = aliased(Transition)
    entered_at = func.coalesce(previous.at, Activity.created_at)
    return (
        select(
            Transition.from_stage.label("stage"),
            _days_between(entered_at, Transition.at, dialect).label("days"),
        )
        .join(Activity, Activity.id == Transition.activity_id)
        .outerjoin(
            previous,
            and_(previous.activity_id == Transition.activity_id, previous.seq == Transition.seq - 1),
        )
        .where(
            Transition.from_stage.is_not(None),
            *_range_clauses(Transition.at, start, end),
            *where.clauses(),
        )
    )


async def stage_times(
    session: AsyncSession, where: DashboardFilter, *, start: date | None, end: date | None
) -> StageTimes:
    """Time in stage: each completed stay, from entering a stage to the next transition of the
    same activity (LAG over its transitions by seq), counted in the stage it left, for stays that
    ended within the range. Cycle time: days from the activity's start to its first arrival in a
    stage, for arrivals within the range (for `closed`, the whole life of the activity)."""
    dialect = _dialect(session)
    time_in_stage = time_in_stage_durations(where, dialect, start=start, end=end)
    creation = aliased(Transition)
    started_at = func.coalesce(creation.at, Activity.created_at)
    arrivals = (
        select(
            Transition.to_stage.label("stage"),
            func.min(Transition.at).label("arrived_at"),
            started_at.label("started_at"),
        )
        .join(Activity, Activity.id == Transition.activity_id)
        .outerjoin(
            creation,
            and_(creation.activity_id == Activity.id, creation.seq == 1, creation.from_stage.is_(None)),
        )
        .where(Transition.from_stage.is_not(None), *where.clauses())
        .group_by(Transition.activity_id, Transition.to_stage, started_at)
        .subquery()
    )
    cycle_time = select(
        arrivals.c.stage.label("stage"),
        _days_between(arrivals.c.started_at, arrivals.c.arrived_at, dialect).label("days"),
    ).where(*_range_clauses(arrivals.c.arrived_at, start, end))

    return StageTimes(await _distributions(session, time_in_stage), await _distributions(session, cycle_time))


# --- cumulative flow and throughput ---------------------------------------------------------------


def _with_activities(transitions: Select[Any], where: DashboardFilter) -> Select[Any]:
    """Join the activities to a select from the log only when the filter needs them: an unfiltered
    figure reads the log alone (and its index on `at`)."""
    if not where.clauses():
        return transitions
    return transitions.join(Activity, Activity.id == Transition.activity_id)


def _count_by(rows: Select[Any]) -> Select[Any]:
    """(bucket, stage, count) from a select of (bucket, stage) rows."""
    sub = rows.subquery()
    return select(sub.c.bucket, sub.c.stage, func.count()).group_by(sub.c.bucket, sub.c.stage)


def snap_range(start: date, end: date, interval: Interval) -> tuple[date, date]:
    """Weeks run Monday to Sunday: widen the range to whole weeks."""
    if interval is Interval.WEEK:
        start = start - timedelta(days=start.weekday())
        end = end + timedelta(days=6 - end.weekday())
    if end < start:
        raise DomainError("the range ends before it starts ('to' < 'from')", status=422, code="invalid_range")
    step = 1 if interval is Interval.DAY else 7
    if ((end - start).days + 1) // step > MAX_BUCKETS:
        raise DomainError(
            f"the range spans more than {MAX_BUCKETS} {interval.value}s; narrow it or use a wider interval",
            status=422,
            code="range_too_long",
        )
    return start, end


def buckets(start: date, end: date, interval: Interval) -> list[date]:
    step = timedelta(days=1 if interval is Interval.DAY else 7)
    days: list[date] = []
    current = start
    while current <= end:
        days.append(current)
        current += step
    return days


@dataclass
class FlowPoint:
    date: date  # the last day of the bucket: counts are as at the end of that day
    counts: dict[Stage, int]


@dataclass
class CumulativeFlow:
    interval: Interval
    start: date
    end: date
    points: list[FlowPoint] = field(default_factory=list)


async def cumulative_flow(
    session: AsyncSession, where: DashboardFilter, *, interval: Interval, start: date, end: date
) -> CumulativeFlow:
    """Activities in each stage at the end of each day (or week, Monday to Sunday), rebuilt from
    the transition log backwards from today: the activities in each stage now, minus what happened
    after each bucket (+1 for `to_stage` and −1 for `from_stage` of every transition, +1 for the
    starting stage of activities whose creation is not in the log), summed per bucket in SQL.
    Only the log from the start of the range on is read (ix_transitions_at), not all of it."""
    start, end = snap_range(start, end, interval)
    dialect = _dialect(session)
    range_start, range_end = start_of(start), start_of(end + timedelta(days=1))

    def grouped(stage_col: Any, at_col: Any, base: Select[Any]) -> Select[Any]:
        # NULL bucket = after the range. Bucket in a subquery, group outside: PostgreSQL does not
        # match GROUP BY expressions that carry bound parameters.
        bucket = case((at_col >= range_end, literal(None)), else_=_bucket_of(at_col, interval, dialect))
        return _count_by(
            base.add_columns(bucket.label("bucket"), stage_col.label("stage")).where(
                at_col >= range_start, *where.clauses()
            )
        )

    arrivals = grouped(
        Transition.to_stage, Transition.at, _with_activities(select().select_from(Transition), where)
    )
    departures = grouped(
        Transition.from_stage,
        Transition.at,
        _with_activities(select().select_from(Transition), where).where(Transition.from_stage.is_not(None)),
    )
    first = aliased(Transition)
    births = grouped(
        func.coalesce(first.from_stage, Activity.stage),
        Activity.created_at,
        select()
        .select_from(Activity)
        .outerjoin(first, and_(first.activity_id == Activity.id, first.seq == 1))
        .where(or_(first.id.is_(None), first.from_stage.is_not(None))),
    )

    running: dict[Stage, int] = dict.fromkeys(ALL_STAGES, 0)
    for stage, count in await session.execute(
        select(Activity.stage, func.count()).where(*where.clauses()).group_by(Activity.stage)
    ):
        running[Stage(stage)] = int(count)
    later: dict[Stage, int] = dict.fromkeys(ALL_STAGES, 0)
    deltas: dict[date, dict[Stage, int]] = defaultdict(lambda: dict.fromkeys(ALL_STAGES, 0))
    for query, sign in ((arrivals, 1), (departures, -1), (births, 1)):
        for bucket, stage, count in await session.execute(query):
            target = later if bucket is None else deltas[_as_date(bucket)]
            target[Stage(stage)] += sign * int(count)

    for stage, delta in later.items():  # undo what happened after the range: its last day's end
        running[stage] -= delta
    flow = CumulativeFlow(interval, start, end)
    step = timedelta(days=0 if interval is Interval.DAY else 6)
    for bucket_start in reversed(buckets(start, end, interval)):
        flow.points.append(FlowPoint(bucket_start + step, dict(running)))
        for stage, delta in deltas.get(bucket_start, {}).items():
            running[stage] -= delta
    flow.points.reverse()
    return flow


@dataclass
class ThroughputPoint:
    start: date
    end: date
    counts: dict[Stage, int]
    total: int


@dataclass
class Throughput:
    interval: Interval
    start: date
    end: date
    points: list[ThroughputPoint]
    totals: dict[Stage, int]


async def throughput(
    session: AsyncSession, where: DashboardFilter, *, interval: Interval, start: date, end: date
) -> Throughput:
    """Transitions per day or week (Monday to Sunday) by `to_stage` (uses ix_transitions_at)."""
    start, end = snap_range(start, end, interval)
    dialect = _dialect(session)
    rows = await session.execute(
        _count_by(
            _with_activities(
                select(
                    _bucket_of(Transition.at, interval, dialect).label("bucket"),
                    Transition.to_stage.label("stage"),
                ),
                where,
            ).where(*_range_clauses(Transition.at, start, end), *where.clauses())
        )
    )
    counts: dict[date, dict[Stage, int]] = defaultdict(lambda: dict.fromkeys(ALL_STAGES, 0))
    for bucket_value, stage, count in rows:
        counts[_as_date(bucket_value)][Stage(stage)] += int(count)
    step = timedelta(days=0 if interval is Interval.DAY else 6)
    points = []
    totals = dict.fromkeys(ALL_STAGES, 0)
    for bucket_start in buckets(start, end, interval):
        per_stage = counts.get(bucket_start, dict.fromkeys(ALL_STAGES, 0))
        for stage, count in per_stage.items():
            totals[stage] += count
        points.append(
            ThroughputPoint(bucket_start, bucket_start + step, dict(per_stage), sum(per_stage.values()))
        )
    return Throughput(interval, start, end, points, totals)


# --- upcoming -------------------------------------------------------------------------------------


class UpcomingKind(StrEnum):
    STAGE_DUE = "stage_due"
    MEETING = "meeting"
    DOCUMENT_DEADLINE = "document_deadline"


@dataclass
class UpcomingItem:
    date: date
    kind: UpcomingKind
    title: str
    days_left: int
    activity_id: int | None = None
    stage: Stage | None = None
    lead_name: str | None = None
    meeting_id: int | None = None
    meeting_code: str | None = None
    ends_on: dt.date | None = None
    conventions: list[str] = field(default_factory=list)


async def upcoming(
    session: AsyncSession, where: DashboardFilter, *, as_of: date, days: int, limit: int = 500
) -> list[UpcomingItem]:
    """Stage due dates of open activities, meeting openings and document deadlines between
    `as_of` and `as_of + days` (inclusive), by date. The thematic group filter applies to
    activities only; the convention and meeting filters to both."""
    horizon = as_of + timedelta(days=days)
    soon = await due_soon(session, where, as_of=as_of, days=days, limit=limit)
    items = [
        UpcomingItem(
            item.due_on,
            UpcomingKind.STAGE_DUE,
            item.title,
            item.days,
            activity_id=item.id,
            stage=item.stage,
            lead_name=item.lead_name,
        )
        for item in soon.items
    ]
    # The document deadline defaults to six weeks before the opening (Meeting.document_deadline):
    # narrow in SQL, then apply the exact rule on the few meetings left.
    meetings = select(Meeting).where(
        Meeting.ends_on >= as_of,
        or_(
            Meeting.starts_on <= horizon + DOCUMENT_DEADLINE_BEFORE_OPENING,
            Meeting.document_deadline_override <= horizon,
        ),
    )
    if where.conventions:
        meetings = meetings.where(
            Meeting.id.in_(
                select(meeting_conventions.c.meeting_id).where(
                    meeting_conventions.c.convention_code.in_(where.conventions)
                )
            )
        )
    if where.meeting_ids:
        meetings = meetings.where(Meeting.id.in_(where.meeting_ids))
    for meeting in (await session.scalars(meetings.order_by(Meeting.starts_on))).all():
        common = {
            "meeting_id": meeting.id,
            "meeting_code": meeting.code,
            "conventions": meeting.convention_codes,
        }
        if as_of <= meeting.starts_on <= horizon:
            items.append(
                UpcomingItem(
                    meeting.starts_on,
                    UpcomingKind.MEETING,
                    meeting.title,
                    (meeting.starts_on - as_of).days,
                    ends_on=meeting.ends_on,
                    **common,  # type: ignore[arg-type]
                )
            )
        deadline = meeting.document_deadline
        if as_of <= deadline <= horizon:
            items.append(
                UpcomingItem(
                    deadline,
                    UpcomingKind.DOCUMENT_DEADLINE,
                    f"Document deadline for {meeting.title}",
                    (deadline - as_of).days,
                    **common,  # type: ignore[arg-type]
                )
            )
    kind_order = list(UpcomingKind)
    items.sort(key=lambda i: (i.date, kind_order.index(i.kind), i.activity_id or 0, i.meeting_id or 0))
    return items[:limit]
