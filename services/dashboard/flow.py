"""Cumulative flow: activities in each stage at the end of each day or week."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.stages import Stage
from models import Activity, ActivityCount, Transition
from models.rollups import StageDayCount
from services.dashboard.filters import (
    ALL_STAGES,
    DashboardFilter,
    Interval,
    Schema,
    buckets,
    snap_range,
    start_of,
)
from services.dashboard.sql import (
    as_date,
    bucket_of,
    count_by,
    counted_under,
    dialect_name,
    kept_keys,
    with_activities,
)


class FlowPointRead(Schema):
    date: dt.date = Field(description="counts are as at the end of this day")
    counts: dict[Stage, int]


class CumulativeFlowRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "interval": "week",
                    "start": "2026-09-01",
                    "end": "2026-11-30",
                    "stages": [
                        "thematic_group",
                        "task_team",
                        "pilot_project",
                        "report_to_cop",
                        "closed",
                        "withdrawn",
                    ],
                    "points": [
                        {
                            "date": "2026-09-30",
                            "counts": {
                                "thematic_group": 0,
                                "task_team": 5,
                                "pilot_project": 0,
                                "report_to_cop": 0,
                                "closed": 23,
                                "withdrawn": 0,
                            },
                        }
                    ],
                }
            ]
        }
    )

    interval: Interval
    start: date
    end: date
    stages: list[Stage] = list(ALL_STAGES)
    points: list[FlowPointRead]


async def cumulative_flow(
    session: AsyncSession, where: DashboardFilter, *, interval: Interval, start: date, end: date
) -> CumulativeFlowRead:
    """Activities in each stage at the end of each day (or week, Monday to Sunday), rebuilt from
    the transition log backwards from today: the activities in each stage now, minus what happened
    after each bucket (+1 for `to_stage` and −1 for `from_stage` of every transition, +1 for the
    starting stage of activities whose creation is not in the log), summed per bucket in SQL.
    Only the log from the start of the range on is read (ix_transitions_at), not all of it."""
    start, end = snap_range(start, end, interval)
    keys = await kept_keys(session, where)
    if keys is not None:
        return await _cumulative_flow_from_rollups(session, keys, interval=interval, start=start, end=end)
    dialect = dialect_name(session)
    range_start, range_end = start_of(start), start_of(end + timedelta(days=1))

    def grouped(stage_col: Any, at_col: Any, base: Select[Any]) -> Select[Any]:
        # NULL bucket = after the range. Bucket in a subquery, group outside: PostgreSQL does not
        # match GROUP BY expressions that carry bound parameters.
        bucket = case((at_col >= range_end, literal(None)), else_=bucket_of(at_col, interval, dialect))
        return count_by(
            base.add_columns(bucket.label("bucket"), stage_col.label("stage")).where(
                at_col >= range_start, *where.clauses()
            )
        )

    arrivals = grouped(
        Transition.to_stage, Transition.at, with_activities(select().select_from(Transition), where)
    )
    departures = grouped(
        Transition.from_stage,
        Transition.at,
        with_activities(select().select_from(Transition), where).where(Transition.from_stage.is_not(None)),
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
            target = later if bucket is None else deltas[as_date(bucket)]
            target[Stage(stage)] += sign * int(count)

    return _walk_back(running, later, deltas, interval=interval, start=start, end=end)


def _walk_back(
    running: dict[Stage, int],
    later: dict[Stage, int],
    deltas: dict[date, dict[Stage, int]],
    *,
    interval: Interval,
    start: date,
    end: date,
) -> CumulativeFlowRead:
    """From the stage counts now, undo what happened after the range, then bucket by bucket."""
    for stage, delta in later.items():  # undo what happened after the range: its last day's end
        running[stage] -= delta
    flow = CumulativeFlowRead(interval=interval, start=start, end=end, points=[])
    step = timedelta(days=0 if interval is Interval.DAY else 6)
    for bucket_start in reversed(buckets(start, end, interval)):
        flow.points.append(FlowPointRead(date=bucket_start + step, counts=dict(running)))
        for stage, delta in deltas.get(bucket_start, {}).items():
            running[stage] -= delta
    flow.points.reverse()
    return flow


async def _cumulative_flow_from_rollups(
    session: AsyncSession, keys: list[str], *, interval: Interval, start: date, end: date
) -> CumulativeFlowRead:
    """The flow of the activities under `keys` (`kept_keys`) from the kept figures: the stage
    counts now (models.counts) and the per-day entered/exited/started counts from the range's
    first day on (models.rollups), the same sums `cumulative_flow` takes from the log (a few
    hundred rows instead of its transitions)."""
    counts = ActivityCount.__table__
    running: dict[Stage, int] = dict.fromkeys(ALL_STAGES, 0)
    for stage, count in await session.execute(
        select(counts.c.stage, func.sum(counts.c.count)).where(*counted_under(keys)).group_by(counts.c.stage)
    ):
        running[Stage(stage)] = int(count or 0)
    rollup = StageDayCount.__table__
    later: dict[Stage, int] = dict.fromkeys(ALL_STAGES, 0)
    deltas: dict[date, dict[Stage, int]] = defaultdict(lambda: dict.fromkeys(ALL_STAGES, 0))
    for day_value, stage, entered, exited, started in await session.execute(
        select(rollup.c.day, rollup.c.stage, rollup.c.entered, rollup.c.exited, rollup.c.started).where(
            rollup.c.conventions_key.in_(keys), rollup.c.day >= start
        )
    ):
        day = as_date(day_value)
        delta = int(entered) - int(exited) + int(started)
        if not delta:
            continue
        if day > end:
            later[Stage(stage)] += delta
        else:
            bucket = day if interval is Interval.DAY else day - timedelta(days=day.weekday())
            deltas[bucket][Stage(stage)] += delta
    return _walk_back(running, later, deltas, interval=interval, start=start, end=end)
