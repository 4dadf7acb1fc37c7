"""Oversight dashboards: counts, deadlines, stage times, flow and throughput, as JSON or CSV, and
the built-in read-only dashboard page.

Every figure takes the same filters: `convention` (repeatable), `thematic_group` (body id,
repeatable), `meeting` (target meeting id, repeatable). CSV: `?format=csv` or `Accept: text/csv`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from api.deps import Reader, SessionDep
from api.examples import examples
from services import dashboard as service
from services.dashboard import (
    ALL_STAGES,
    CumulativeFlowRead,
    DashboardFilter,
    DueListRead,
    Interval,
    StageTimesRead,
    SummaryRead,
    ThroughputRead,
    UpcomingItemRead,
    utc_today,
)
from services.spreadsheet import neutralise_cell

router = APIRouter(tags=["dashboard"])

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "JSON, or CSV with `format=csv` / `Accept: text/csv`",
    }
}


# --- parameters -----------------------------------------------------------------------------------


def dashboard_filter(
    convention: Annotated[list[str] | None, Query(description="convention code; repeat for several")] = None,
    thematic_group: Annotated[
        list[int] | None, Query(description="thematic group (body) id; repeat for several")
    ] = None,
    meeting: Annotated[list[int] | None, Query(description="target meeting id; repeat for several")] = None,
) -> DashboardFilter:
    return DashboardFilter(tuple(convention or ()), tuple(thematic_group or ()), tuple(meeting or ()))


FilterDep = Annotated[DashboardFilter, Depends(dashboard_filter)]
Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="`csv` for a CSV download; `Accept: text/csv` does the same"),
]
AsOf = Annotated[date | None, Query(description="the day to count from; today (UTC) by default")]
From = Annotated[date | None, Query(alias="from", description="first day, inclusive")]
To = Annotated[date | None, Query(alias="to", description="last day, inclusive")]
Limit = Annotated[int, Query(ge=1, le=service.MAX_LIST)]


def wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def csv_response(columns: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """Every export's CSV: text cells that a spreadsheet would run as a formula are neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else str(neutralise_cell(value)) for value in row])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- schemas (the other figures answer the schemas their services return) -------------------------


class UpcomingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=examples("UpcomingRead"))

    as_of: date
    days: int
    items: list[UpcomingItemRead]


# --- routes ---------------------------------------------------------------------------------------


@router.get(
    "/dashboard/summary",
    response_model=SummaryRead,
    responses=CSV_RESPONSE,
    summary="Activities by stage × convention × thematic group",
)
async def get_summary(
    request: Request, session: SessionDep, _: Reader, where: FilterDep, format: Format = None
) -> Any:
    """CSV: one row per cell (stage, convention, thematic group, count)."""
    result = await service.summary(session, where)
    if wants_csv(request, format):
        return csv_response(
            [
                "stage",
                "convention",
                "thematic_group_id",
                "thematic_group_code",
                "thematic_group_name",
                "count",
            ],
            (
                [
                    c.stage.value,
                    c.convention,
                    c.thematic_group_id,
                    c.thematic_group_code,
                    c.thematic_group_name,
                    c.count,
                ]
                for c in result.cells
            ),
            "summary.csv",
        )
    return result


def _due_csv(result: DueListRead, days_column: str, filename: str) -> Response:
    return csv_response(
        ["id", "title", "stage", "due_on", days_column, "lead_id", "lead_name", "thematic_group_id"],
        (
            [
                i.id,
                i.title,
                i.stage.value,
                i.due_on.isoformat(),
                i.days,
                i.lead_id,
                i.lead_name,
                i.thematic_group_id,
            ]
            for i in result.items
        ),
        filename,
    )


@router.get(
    "/dashboard/overdue",
    response_model=DueListRead,
    responses=CSV_RESPONSE,
    summary="Open activities past their stage due date",
)
async def get_overdue(
    request: Request,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    as_of: AsOf = None,
    limit: Limit = 500,
    format: Format = None,
) -> Any:
    result = await service.overdue(session, where, as_of=as_of or utc_today(), limit=limit)
    if wants_csv(request, format):
        return _due_csv(result, "days_overdue", "overdue.csv")
    return result


@router.get(
    "/dashboard/due-soon",
    response_model=DueListRead,
    responses=CSV_RESPONSE,
    summary="Open activities due within the next `days` days",
)
async def get_due_soon(
    request: Request,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    days: Annotated[int, Query(ge=0, le=3660)] = 30,
    as_of: AsOf = None,
    limit: Limit = 500,
    format: Format = None,
) -> Any:
    result = await service.due_soon(session, where, as_of=as_of or utc_today(), days=days, limit=limit)
    if wants_csv(request, format):
        return _due_csv(result, "days_left", "due-soon.csv")
    return result


@router.get(
    "/dashboard/stage-times",
    response_model=StageTimesRead,
    responses=CSV_RESPONSE,
    summary="Time in stage and cycle time per stage (median, p90, in days)",
)
async def get_stage_times(
    request: Request,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    start: From = None,
    end: To = None,
    format: Format = None,
) -> Any:
    """`from`/`to` select the stays that ended (time in stage) and the arrivals (cycle time)
    within the range. CSV: one row per (measure, stage)."""
    result = await service.stage_times(session, where, start=start, end=end)
    if wants_csv(request, format):
        rows = [
            [measure, d.stage.value, d.count, d.median_days, d.p90_days, d.mean_days]
            for measure, items in (("time_in_stage", result.time_in_stage), ("cycle_time", result.cycle_time))
            for d in items
        ]
        return csv_response(
            ["measure", "stage", "count", "median_days", "p90_days", "mean_days"],
            rows,
            "stage-times.csv",
        )
    return result


def _default_range(start: date | None, end: date | None, interval: Interval) -> tuple[date, date]:
    end = end or utc_today()
    start = start or end - (timedelta(days=29) if interval is Interval.DAY else timedelta(weeks=12))
    return start, end


@router.get(
    "/dashboard/cumulative-flow",
    response_model=CumulativeFlowRead,
    responses=CSV_RESPONSE,
    summary="Activities in each stage at the end of each day/week",
)
async def get_cumulative_flow(
    request: Request,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    interval: Interval = Interval.DAY,
    start: From = None,
    end: To = None,
    format: Format = None,
) -> Any:
    """Rebuilt from the transition log. Weeks run Monday to Sunday (the range widens to whole
    weeks); a point's `date` is the last day of its day or week. Defaults: the last 30 days, or
    the last 13 weeks. CSV: one row per point, one column per stage."""
    start, end = _default_range(start, end, interval)
    result = await service.cumulative_flow(session, where, interval=interval, start=start, end=end)
    if wants_csv(request, format):
        return csv_response(
            ["date", *(stage.value for stage in ALL_STAGES)],
            ([p.date.isoformat(), *(p.counts[stage] for stage in ALL_STAGES)] for p in result.points),
            "cumulative-flow.csv",
        )
    return result


@router.get(
    "/dashboard/throughput",
    response_model=ThroughputRead,
    responses=CSV_RESPONSE,
    summary="Transitions per week (or day) by to_stage",
)
async def get_throughput(
    request: Request,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    interval: Interval = Interval.WEEK,
    start: From = None,
    end: To = None,
    format: Format = None,
) -> Any:
    """Weeks run Monday to Sunday. CSV: one row per period, one column per to_stage, and total."""
    start, end = _default_range(start, end, interval)
    result = await service.throughput(session, where, interval=interval, start=start, end=end)
    if wants_csv(request, format):
        return csv_response(
            ["start", "end", *(stage.value for stage in ALL_STAGES), "total"],
            (
                [p.start.isoformat(), p.end.isoformat(), *(p.counts[s] for s in ALL_STAGES), p.total]
                for p in result.points
            ),
            "throughput.csv",
        )
    return result


@router.get(
    "/dashboard/upcoming",
    response_model=UpcomingRead,
    responses=CSV_RESPONSE,
    summary="Upcoming stage deadlines, meetings and document deadlines",
)
async def get_upcoming(
    request: Request,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    days: Annotated[int, Query(ge=0, le=3660)] = 90,
    as_of: AsOf = None,
    limit: Limit = 500,
    format: Format = None,
) -> Any:
    """The thematic group filter applies to activities only; convention and meeting to both."""
    today = as_of or utc_today()
    items = await service.upcoming(session, where, as_of=today, days=days, limit=limit)
    if wants_csv(request, format):
        return csv_response(
            [
                "date",
                "kind",
                "title",
                "days_left",
                "activity_id",
                "stage",
                "lead_name",
                "meeting_id",
                "meeting_code",
                "ends_on",
                "conventions",
            ],
            (
                [
                    i.date.isoformat(),
                    i.kind.value,
                    i.title,
                    i.days_left,
                    i.activity_id,
                    i.stage.value if i.stage else None,
                    i.lead_name,
                    i.meeting_id,
                    i.meeting_code,
                    i.ends_on.isoformat() if i.ends_on else None,
                    " ".join(i.conventions),
                ]
                for i in items
            ),
            "upcoming.csv",
        )
    return UpcomingRead(as_of=today, days=days, items=items)
