"""Throughput: activities entering each stage per week."""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Stage
from services import dashboard
from services.dashboard import Interval
from services.oversight.filters import (
    OversightFilter,
    Period,
    Table,
    _renamed,
    _Schema,
    _stage_columns,
    _table,
)


class ThroughputWeek(_Schema):
    start: date = Field(description="Monday")
    end: date = Field(description="Sunday")
    counts: dict[Stage, int] = Field(description="moves into each stage")
    total: int


class ThroughputView(_Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-08-31",
                    "end": "2026-12-06",
                    "weeks": [
                        {
                            "start": "2026-11-16",
                            "end": "2026-11-22",
                            "counts": {
                                "thematic_group": 0,
                                "task_team": 1,
                                "pilot_project": 0,
                                "report_to_cop": 1,
                                "closed": 0,
                                "withdrawn": 0,
                            },
                            "total": 2,
                        }
                    ],
                    "totals": {
                        "thematic_group": 0,
                        "task_team": 1,
                        "pilot_project": 0,
                        "report_to_cop": 1,
                        "closed": 0,
                        "withdrawn": 0,
                    },
                }
            ]
        }
    )

    start: date
    end: date
    weeks: list[ThroughputWeek]
    totals: dict[Stage, int]

    def table(self) -> Table:
        return _table(
            self.weeks,
            _renamed("week_start", "start"),
            _renamed("week_end", "end"),
            *_stage_columns(),
            "total",
        )


async def throughput(session: AsyncSession, where: OversightFilter, *, period: Period) -> ThroughputView:
    """Moves into each stage per week, Monday to Sunday (the period widens to whole weeks)."""
    result = await dashboard.throughput(
        session, where, interval=Interval.WEEK, start=period.start, end=period.end
    )
    return ThroughputView(
        start=result.start,
        end=result.end,
        weeks=[
            ThroughputWeek(start=p.start, end=p.end, counts=p.counts, total=p.total) for p in result.points
        ],
        totals=result.totals,
    )
