"""Time in stage and cycle time per stage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from core.stages import Stage
from models import Activity, StageArrival, StageStay, Transition
from services.dashboard.filters import ALL_STAGES, DashboardFilter, Schema, range_clauses
from services.dashboard.histograms import stage_histograms
from services.dashboard.sql import days_between, dialect_name, kept_keys, percentile


class DistributionRead(Schema):
    stage: Stage
    count: int
    median_days: float | None = Field(
        description="unfiltered or filtered by conventions only: over the lengths in whole days (kept "
        "figures, models.rollups; the value on fractional days lies less than a day above); other "
        "filters: on fractional days"
    )
    p90_days: float | None = Field(
        description="90th percentile, linear interpolation; days as for the median"
    )
    mean_days: float | None = Field(description="on fractional days (kept figures: to the second)")


class StageTimesRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "time_in_stage": [
                        {
                            "stage": "thematic_group",
                            "count": 28,
                            "median_days": 118.0,
                            "p90_days": 205.1,
                            "mean_days": 120.2,
                        }
                    ],
                    "cycle_time": [
                        {
                            "stage": "report_to_cop",
                            "count": 24,
                            "median_days": 469.0,
                            "p90_days": 636.0,
                            "mean_days": 427.4,
                        }
                    ],
                }
            ]
        }
    )

    time_in_stage: list[DistributionRead] = Field(
        description="completed stays: entering a stage to the activity's next transition"
    )
    cycle_time: list[DistributionRead] = Field(
        description="the activity's start to its first arrival in the stage"
    )


async def _distributions(session: AsyncSession, durations: Select[Any]) -> list[DistributionRead]:
    """`durations` selects (stage, days); returns count, median, p90 and mean per stage."""
    sub = durations.subquery()
    stage_col, days_col = sub.c.stage, sub.c.days
    results: dict[Stage, DistributionRead] = {}
    if dialect_name(session) == "postgresql":
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
            results[Stage(stage)] = DistributionRead(
                stage=Stage(stage),
                count=int(count),
                median_days=float(median),
                p90_days=float(p90),
                mean_days=float(mean),
            )
    else:
        # SQLite has no percentile aggregate: stream one float per stay, already sorted.
        grouped: dict[str, list[float]] = defaultdict(list)
        result = await session.stream(select(stage_col, days_col).order_by(stage_col, days_col))
        async for stage, days in result:
            grouped[stage].append(float(days))
        for stage, values in grouped.items():
            results[Stage(stage)] = DistributionRead(
                stage=Stage(stage),
                count=len(values),
                median_days=percentile(values, 0.5),
                p90_days=percentile(values, 0.9),
                mean_days=sum(values) / len(values),
            )
    return [results[stage] for stage in ALL_STAGES if stage in results]


def time_in_stage_durations(
    where: DashboardFilter, dialect: str, *, start: date | None, end: date | None
) -> Select[Any]:
    """(stage, days) for each completed stay that ended within the range: from entering a stage
    (the activity's previous transition, by seq, or its creation) to the transition that left it.
    A join on (activity_id, seq - 1) rather than a window over the whole log: only the range's
    transitions are read, each finding its predecessor in ix_transitions_activity_seq_at. Filtered,
    the query starts from the filtered activities and reads their transitions from that index
    alone; SQLite would start from the range (ix_transitions_at, ~120,000 rows in 12 weeks at
    100,000 activities, probing each one's activity, then reading its row for the seq): ~6 times
    the CPU for the largest thematic group, so there the range is kept off the index. PostgreSQL
    chooses by the range's size, written into the statement (a generic plan would guess it small
    and start from the range: ~3 times the time)."""
    previous = aliased(Transition)
    entered_at = func.coalesce(previous.at, Activity.created_at)
    clauses = where.clauses()
    at: Any = Transition.at
    if clauses and dialect == "sqlite":
        at = _no_index(at)
    return (
        select(
            Transition.from_stage.label("stage"),
            days_between(entered_at, Transition.at, dialect).label("days"),
        )
        .join(Activity, Activity.id == Transition.activity_id)
        .outerjoin(
            previous,
            and_(previous.activity_id == Transition.activity_id, previous.seq == Transition.seq - 1),
        )
        .where(
            Transition.from_stage.is_not(None),
            *range_clauses(at, start, end, literal=bool(clauses) and dialect == "postgresql"),
            *clauses,
        )
    )


def _no_index(column: Any) -> ColumnElement[Any]:
    """SQLite's unary +: the same value, but a term on it cannot use an index (the planner's
    documented way to choose another one)."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


async def stage_times(
    session: AsyncSession, where: DashboardFilter, *, start: date | None, end: date | None
) -> StageTimesRead:
    """Time in stage: each completed stay, from entering a stage to the next transition of the
    same activity (LAG over its transitions by seq), counted in the stage it left, for stays that
    ended within the range. Cycle time: days from the activity's start to its first arrival in a
    stage, for arrivals within the range (for `closed`, the whole life of the activity).
    Unfiltered or filtered by conventions alone, both come from the kept histograms
    (`stage_stays`, `stage_arrivals`): medians and p90 over whole days, the rest exact; any other
    filter reads the log."""
    keys = await kept_keys(session, where)
    if keys is not None:
        return StageTimesRead(
            time_in_stage=await _kept(session, StageStay, keys, start=start, end=end),
            cycle_time=await _kept(session, StageArrival, keys, start=start, end=end),
        )
    dialect = dialect_name(session)
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
        days_between(arrivals.c.started_at, arrivals.c.arrived_at, dialect).label("days"),
    ).where(*range_clauses(arrivals.c.arrived_at, start, end))

    return StageTimesRead(
        time_in_stage=await _distributions(session, time_in_stage),
        cycle_time=await _distributions(session, cycle_time),
    )


async def _kept(
    session: AsyncSession,
    model: type[StageStay | StageArrival],
    keys: Sequence[str],
    *,
    start: date | None,
    end: date | None,
) -> list[DistributionRead]:
    histograms = await stage_histograms(session, model.__table__, start, end, keys)
    return [
        DistributionRead(
            stage=stage,
            count=histogram.count,
            median_days=histogram.quantile(0.5),
            p90_days=histogram.quantile(0.9),
            mean_days=histogram.mean_days(),
        )
        for stage in ALL_STAGES
        if (histogram := histograms.get(stage)) is not None
    ]
