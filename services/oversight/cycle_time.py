"""Cycle time: days from a stage's entry to its exit, per stage, from the kept stays."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy import ColumnElement, Integer, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import OPEN_STAGES, Stage
from models.rollups import StageStay
from services import dashboard
from services.oversight.filters import OversightFilter, Period, Table, _code, _Schema, _table


class StageCycleTime(_Schema):
    stage: Stage
    stays: int = Field(description="completed stays in the stage that ended within the period")
    median_days: float | None = Field(
        description="unfiltered or filtered by conventions only: over the stays' lengths in whole days "
        "(kept figures, models.rollups; the value on fractional days lies less than a day above); "
        "other filters: on fractional days"
    )
    p85_days: float | None = Field(
        description="85th percentile, linear interpolation; days as for the median"
    )


class CycleTimeView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-09-15",
                    "end": "2026-12-07",
                    "stages": [{"stage": "task_team", "stays": 4, "median_days": 118.0, "p85_days": 190.5}],
                }
            ]
        }
    )

    start: date
    end: date
    stages: list[StageCycleTime]

    def table(self) -> Table:
        return _table(
            self.stages,
            ("stage", _code("stage")),
            "stays",
            ("median_days", lambda s: _round(s.median_days)),
            ("p85_days", lambda s: _round(s.p85_days)),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


CYCLE_FRACTIONS = (0.5, 0.85)


async def cycle_time(session: AsyncSession, where: OversightFilter, *, period: Period) -> CycleTimeView:
    """How long activities stay in each open stage: completed stays that ended within the period,
    entering the stage to the activity's next transition (the dashboard's time in stage)."""
    keys = await dashboard.kept_keys(session, where)
    if keys is not None:
        return _cycle_time_view(period, await stay_quantiles(session, period, CYCLE_FRACTIONS, keys))
    dialect = session.get_bind().dialect.name
    durations = dashboard.time_in_stage_durations(
        where, dialect, start=period.start, end=period.end
    ).subquery()
    stage_col, days_col = durations.c.stage, durations.c.days
    figures: dict[Stage, tuple[int, float | None, float | None]] = {}
    if dialect == "postgresql":
        rows = await session.execute(
            select(
                stage_col,
                func.count(),
                *(func.percentile_cont(f).within_group(days_col) for f in CYCLE_FRACTIONS),
            ).group_by(stage_col)
        )
        for stage, count, median, p85 in rows:
            figures[Stage(stage)] = (int(count), float(median), float(p85))
    else:
        figures = await _sqlite_quantiles(session, stage_col, days_col)
    return _cycle_time_view(period, figures)


def _cycle_time_view(
    period: Period, figures: dict[Stage, tuple[int, float | None, float | None]]
) -> CycleTimeView:
    return CycleTimeView(
        start=period.start,
        end=period.end,
        stages=[
            StageCycleTime(
                stage=stage,
                stays=figures.get(stage, (0, None, None))[0],
                median_days=figures.get(stage, (0, None, None))[1],
                p85_days=figures.get(stage, (0, None, None))[2],
            )
            for stage in OPEN_STAGES
        ],
    )


async def stay_quantiles(
    session: AsyncSession, period: Period, fractions: Sequence[float], keys: Sequence[str]
) -> dict[Stage, tuple[int, float | None, float | None]]:
    """(stays, quantiles...) per stage from the kept histogram, in whole days: exact over the
    stays' lengths cut to whole days (the value on fractional days lies less than a day above)."""
    histograms = await dashboard.stage_histograms(
        session, StageStay.__table__, period.start, period.end, keys
    )
    return {
        stage: (histogram.count, *(histogram.quantile(f) for f in fractions))  # type: ignore[misc]
        for stage, histogram in histograms.items()
    }


async def _sqlite_quantiles(
    session: AsyncSession, stage_col: Any, days_col: Any
) -> dict[Stage, tuple[int, float | None, float | None]]:
    """SQLite has no percentile aggregate: rank the stays per stage in SQL and read back only the
    two ranks around each quantile, then interpolate as percentile_cont does."""
    ranked = select(
        stage_col.label("stage"),
        days_col.label("days"),
        (func.row_number().over(partition_by=stage_col, order_by=days_col) - 1).label("rank"),
        func.count().over(partition_by=stage_col).label("n"),
    ).subquery()

    def near(fraction: float) -> ColumnElement[bool]:
        low = cast((ranked.c.n - 1) * fraction, Integer)
        return ranked.c.rank.between(low, low + 1)

    values: dict[str, dict[int, float]] = defaultdict(dict)
    counts: dict[str, int] = {}
    for stage, days, rank, n in await session.execute(
        select(ranked.c.stage, ranked.c.days, ranked.c.rank, ranked.c.n).where(
            or_(*(near(f) for f in CYCLE_FRACTIONS))
        )
    ):
        values[stage][int(rank)] = float(days)
        counts[stage] = int(n)

    def quantile(stage: str, fraction: float) -> float:
        position = (counts[stage] - 1) * fraction
        low, high = math.floor(position), math.ceil(position)
        low_value, high_value = values[stage][low], values[stage][high]
        return low_value + (high_value - low_value) * (position - low)

    return {
        Stage(stage): (n, quantile(stage, CYCLE_FRACTIONS[0]), quantile(stage, CYCLE_FRACTIONS[1]))
        for stage, n in counts.items()
    }
