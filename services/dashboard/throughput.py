"""Throughput: transitions per day or week by the stage they enter."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Stage
from models import Transition
from models.rollups import StageDayCount
from services.dashboard.filters import (
    ALL_STAGES,
    DashboardFilter,
    Interval,
    Schema,
    buckets,
    range_clauses,
    snap_range,
)
from services.dashboard.sql import as_date, bucket_of, count_by, dialect_name, kept_keys, with_activities

_Z: dict[str, Any] = {  # the example's counts per stage
    "thematic_group": 0,
    "task_team": 1,
    "pilot_project": 0,
    "report_to_cop": 1,
    "closed": 0,
    "withdrawn": 0,
}


class ThroughputPointRead(Schema):
    start: date
    end: date
    counts: dict[Stage, int] = Field(description="transitions by to_stage")
    total: int


class ThroughputRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "interval": "week",
                    "start": "2026-08-31",
                    "end": "2026-12-06",
                    "points": [{"start": "2026-11-16", "end": "2026-11-22", "counts": _Z, "total": 2}],
                    "totals": _Z,
                }
            ]
        }
    )

    interval: Interval
    start: date
    end: date
    points: list[ThroughputPointRead]
    totals: dict[Stage, int]


async def throughput(
    session: AsyncSession, where: DashboardFilter, *, interval: Interval, start: date, end: date
) -> ThroughputRead:
    """Transitions per day or week (Monday to Sunday) by `to_stage` (uses ix_transitions_at)."""
    start, end = snap_range(start, end, interval)
    keys = await kept_keys(session, where)
    if keys is not None:
        counted = await _entered_from_rollups(session, keys, interval, start, end)
        return _throughput_points(counted, interval, start, end)
    dialect = dialect_name(session)
    rows = await session.execute(
        count_by(
            with_activities(
                select(
                    bucket_of(Transition.at, interval, dialect).label("bucket"),
                    Transition.to_stage.label("stage"),
                ),
                where,
            ).where(*range_clauses(Transition.at, start, end), *where.clauses())
        )
    )
    counts: dict[date, dict[Stage, int]] = defaultdict(lambda: dict.fromkeys(ALL_STAGES, 0))
    for bucket_value, stage, count in rows:
        counts[as_date(bucket_value)][Stage(stage)] += int(count)
    return _throughput_points(counts, interval, start, end)


async def _entered_from_rollups(
    session: AsyncSession, keys: list[str], interval: Interval, start: date, end: date
) -> dict[date, dict[Stage, int]]:
    """Moves into each stage per bucket of the activities under `keys` (`kept_keys`), from the
    per-day counts (models.rollups)."""
    rollup = StageDayCount.__table__
    counts: dict[date, dict[Stage, int]] = defaultdict(lambda: dict.fromkeys(ALL_STAGES, 0))
    for day_value, stage, entered in await session.execute(
        select(rollup.c.day, rollup.c.stage, rollup.c.entered).where(
            rollup.c.conventions_key.in_(keys),
            rollup.c.day >= start,
            rollup.c.day <= end,
            rollup.c.entered != 0,
        )
    ):
        day = as_date(day_value)
        bucket = day if interval is Interval.DAY else day - timedelta(days=day.weekday())
        counts[bucket][Stage(stage)] += int(entered)
    return counts


def _throughput_points(
    counts: dict[date, dict[Stage, int]], interval: Interval, start: date, end: date
) -> ThroughputRead:
    step = timedelta(days=0 if interval is Interval.DAY else 6)
    points = []
    totals = dict.fromkeys(ALL_STAGES, 0)
    for bucket_start in buckets(start, end, interval):
        per_stage = counts.get(bucket_start, dict.fromkeys(ALL_STAGES, 0))
        for stage, count in per_stage.items():
            totals[stage] += count
        points.append(
            ThroughputPointRead(
                start=bucket_start,
                end=bucket_start + step,
                counts=dict(per_stage),
                total=sum(per_stage.values()),
            )
        )
    return ThroughputRead(interval=interval, start=start, end=end, points=points, totals=totals)
