"""The oversight views as JSON, CSV or XLSX: mandate coverage, COP readiness, overdue and due soon,
cycle time, throughput, cumulative flow, recent transitions and the activity list behind every count.

Every view takes the same filters in the query string: `convention` (code, e.g. `minamata`),
`thematic_group`, `lead`, `meeting` (ids) and `stage`, each repeatable; views of a moment take
`as_of`, views of a period `from` and `to`. `format=csv` (UTF-8 with a byte order mark) or
`format=xlsx` downloads the rows the JSON holds, for the same query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.deps import Reader, SessionDep
from api.pagination import set_page_links
from core.stages import Stage
from services import oversight as service
from services.dashboard import Interval, utc_today
from services.oversight import (
    DueBucket,
    OversightFilter,
    PageRequest,
    Period,
    Table,
)
from services.spreadsheet import csv_bytes, xlsx_bytes

router = APIRouter(prefix="/oversight", tags=["oversight"])

ExportFormat = Literal["json", "csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}, XLSX_TYPE: {"schema": {"type": "string"}}},
        "description": "JSON; `format=csv` or `format=xlsx` for a download of the same rows",
    }
}


def oversight_filter(
    convention: Annotated[
        list[str] | None, Query(description="convention code (basel, rotterdam, stockholm, minamata)")
    ] = None,
    thematic_group: Annotated[list[int] | None, Query(description="thematic group (body) id")] = None,
    lead: Annotated[list[int] | None, Query(description="lead (person) id")] = None,
    meeting: Annotated[list[int] | None, Query(description="target meeting id")] = None,
    stage: Annotated[list[Stage] | None, Query(description="current stage")] = None,
) -> OversightFilter:
    return OversightFilter(
        conventions=tuple(c for c in convention or () if c),
        thematic_group_ids=tuple(thematic_group or ()),
        meeting_ids=tuple(meeting or ()),
        lead_ids=tuple(lead or ()),
        stages=tuple(stage or ()),
    )


def period(
    start: Annotated[date | None, Query(alias="from", description="first day, inclusive")] = None,
    end: Annotated[
        date | None, Query(alias="to", description="last day, inclusive; today by default")
    ] = None,
) -> Period:
    return Period.of(start, end, utc_today())


def page_request(
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE)] = 50,
) -> PageRequest:
    return PageRequest(page, per_page)


FilterDep = Annotated[OversightFilter, Depends(oversight_filter)]
PeriodDep = Annotated[Period, Depends(period)]
PageDep = Annotated[PageRequest, Depends(page_request)]
AsOf = Annotated[date | None, Query(description="the day to judge from; today (UTC) by default")]
Format = Annotated[ExportFormat, Query(description="json, or csv / xlsx for a download")]

View = TypeVar("View", bound=Any)


def exported(view: View, format: ExportFormat, name: str) -> View | Response:
    """The view itself (FastAPI serialises it), or its rows as a CSV or XLSX download."""
    if format == "json":
        return view
    table: Table = view.table()
    if format == "csv":
        return Response(
            csv_bytes(table.columns, table.rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        xlsx_bytes(name, table.columns, table.rows),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


def _route(path: str, model: type[Any], summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.get(path, response_model=model, responses=EXPORT_RESPONSES, summary=summary)


@_route("/coverage", service.CoverageView, "Mandate coverage: activities per provision, by stage")
async def get_coverage(
    session: SessionDep, _: Reader, where: FilterDep, as_of: AsOf = None, format: Format = "json"
) -> Any:
    """Provisions with no activity, or with every open activity overdue, are flagged."""
    view = await service.coverage(session, where, as_of=as_of or utc_today())
    return exported(view, format, "mandate-coverage")


@_route("/cop-readiness", service.ReadinessView, "COP readiness: activities per upcoming meeting")
async def get_cop_readiness(
    session: SessionDep, _: Reader, where: FilterDep, as_of: AsOf = None, format: Format = "json"
) -> Any:
    view = await service.cop_readiness(session, where, as_of=as_of or utc_today())
    return exported(view, format, "cop-readiness")


@_route("/due", service.DueView, "Overdue and due within 0, 3 and 14 days, with pending reminders")
async def get_due(
    request: Request,
    response: Response,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    page: PageDep,
    bucket: Annotated[DueBucket | None, Query(description="list only this bucket")] = None,
    as_of: AsOf = None,
    format: Format = "json",
) -> Any:
    view = await service.due(session, where, as_of=as_of or utc_today(), bucket=bucket, page=page)
    set_page_links(response, request.url, view.page, has_next=view.page * view.per_page < view.total)
    return exported(view, format, "overdue-and-due-soon")


@_route("/cycle-time", service.CycleTimeView, "Time in each stage (median and 85th percentile)")
async def get_cycle_time(
    session: SessionDep, _: Reader, where: FilterDep, period: PeriodDep, format: Format = "json"
) -> Any:
    view = await service.cycle_time(session, where, period=period)
    return exported(view, format, "cycle-time")


@_route("/throughput", service.ThroughputView, "Moves into each stage per week")
async def get_oversight_throughput(
    session: SessionDep, _: Reader, where: FilterDep, period: PeriodDep, format: Format = "json"
) -> Any:
    view = await service.throughput(session, where, period=period)
    return exported(view, format, "throughput")


@_route("/cumulative-flow", service.FlowView, "Activities in each stage at the end of each day or week")
async def get_oversight_cumulative_flow(
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    period: PeriodDep,
    interval: Interval = Interval.DAY,
    format: Format = "json",
) -> Any:
    view = await service.cumulative_flow(session, where, period=period, interval=interval)
    return exported(view, format, "cumulative-flow")


@_route("/transitions", service.TransitionsView, "Recent transitions, newest first")
async def get_transitions(
    request: Request,
    response: Response,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    period: PeriodDep,
    page: PageDep,
    after_id: Annotated[int, Query(ge=0, description="only transitions recorded after this one")] = 0,
    format: Format = "json",
) -> Any:
    view = await service.recent_transitions(session, where, period=period, page=page, after_id=after_id)
    set_page_links(response, request.url, view.page, has_next=view.has_next)
    return exported(view, format, "transitions")


@_route("/activities", service.ActivityListView, "The activities behind a count")
async def get_activities(
    request: Request,
    response: Response,
    session: SessionDep,
    _: Reader,
    where: FilterDep,
    page: PageDep,
    provision: Annotated[int | None, Query(description="answering this provision (id)")] = None,
    due: Annotated[DueBucket | None, Query(description="open and in this due bucket")] = None,
    pending: Annotated[
        service.Pending | None, Query(description="open, with a reminder or escalation not acknowledged")
    ] = None,
    as_of: AsOf = None,
    format: Format = "json",
) -> Any:
    view = await service.activity_list(
        session, where, service.Drill(provision, due, pending), as_of=as_of or utc_today(), page=page
    )
    set_page_links(response, request.url, view.page, has_next=view.page < view.pages)
    return exported(view, format, "activities")
