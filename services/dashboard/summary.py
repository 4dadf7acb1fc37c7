"""Counts by stage × convention × thematic group, from the counts table."""

from __future__ import annotations

from collections import defaultdict

from pydantic import ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import Stage
from models import ActivityCount, Body
from models.counts import convention_codes
from services.dashboard.filters import ALL_STAGES, STAGE_ORDER, DashboardFilter, Schema


class SummaryCellRead(Schema):
    stage: Stage
    convention: str | None = Field(description="null for an activity with no convention")
    thematic_group_id: int | None
    thematic_group_code: str | None
    thematic_group_name: str | None
    count: int


class SummaryRead(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 29,
                    "by_stage": {
                        "thematic_group": 1,
                        "task_team": 4,
                        "pilot_project": 2,
                        "report_to_cop": 1,
                        "closed": 23,
                        "withdrawn": 0,
                    },
                    "by_convention": {
                        "minamata": {
                            "thematic_group": 1,
                            "task_team": 4,
                            "pilot_project": 0,
                            "report_to_cop": 1,
                            "closed": 0,
                            "withdrawn": 0,
                        }
                    },
                    "cells": [
                        {
                            "stage": "task_team",
                            "convention": "minamata",
                            "thematic_group_id": 9,
                            "thematic_group_code": "tg-joint-inputs",
                            "thematic_group_name": (
                                "Inter-secretariat thematic group on joint inputs into other processes"
                            ),
                            "count": 2,
                        }
                    ],
                }
            ]
        }
    )

    total: int = Field(description="activities matching the filters, each counted once")
    by_stage: dict[Stage, int] = Field(description="each activity counted once")
    by_convention: dict[str, dict[Stage, int]] = Field(
        description="an activity with several conventions counts under each"
    )
    cells: list[SummaryCellRead] = Field(description="stage × convention × thematic group")

    @classmethod
    def of(cls, cells: list[SummaryCellRead], by_stage: dict[Stage, int]) -> SummaryRead:
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
        return cls(
            total=sum(by_stage.values()),
            by_stage=by_stage,
            by_convention=dict(sorted(by_convention.items())),
            cells=cells,
        )


async def summary(session: AsyncSession, where: DashboardFilter) -> SummaryRead:
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
    return SummaryRead.of(
        [
            SummaryCellRead(
                stage=stage,
                convention=convention,
                thematic_group_id=group_id,
                thematic_group_code=code,
                thematic_group_name=name,
                count=count,
            )
            for (stage, convention, group_id, code, name), count in cells.items()
        ],
        by_stage,
    )
