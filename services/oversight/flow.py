"""Cumulative flow: activities in each stage at the end of each week."""

from __future__ import annotations

import datetime as dt
from datetime import date

from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Stage
from services import dashboard
from services.dashboard import Interval
from services.oversight.filters import OversightFilter, Period, Table, _Schema, _stage_columns, _table


class FlowPoint(_Schema):
    date: dt.date = Field(description="counts are as at the end of this day")
    counts: dict[Stage, int]
    total: int


class FlowView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "interval": "day",
                    "start": "2026-09-01",
                    "end": "2026-11-30",
                    "points": [
                        {
                            "date": "2026-09-01",
                            "counts": {
                                "thematic_group": 0,
                                "task_team": 5,
                                "pilot_project": 0,
                                "report_to_cop": 0,
                                "closed": 23,
                                "withdrawn": 0,
                            },
                            "total": 28,
                        }
                    ],
                }
            ]
        }
    )

    interval: Interval
    start: date
    end: date
    points: list[FlowPoint]

    def table(self) -> Table:
        return _table(self.points, "date", *_stage_columns(), "total")


async def cumulative_flow(
    session: AsyncSession, where: OversightFilter, *, period: Period, interval: Interval
) -> FlowView:
    """Activities in each stage at the end of each day or week of the period, from the log."""
    result = await dashboard.cumulative_flow(
        session, where, interval=interval, start=period.start, end=period.end
    )
    return FlowView(
        interval=interval,
        start=result.start,
        end=result.end,
        points=[FlowPoint(date=p.date, counts=p.counts, total=sum(p.counts.values())) for p in result.points],
    )
