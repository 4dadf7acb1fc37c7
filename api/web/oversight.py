"""The oversight team's pages under /app/oversight/: the views of services/oversight/ as
server-rendered pages with charts (Chart.js, vendored), the figures in tables, every count a link
to the activities behind it, and downloads of each view as CSV or XLSX (the JSON routes of
api/routes/oversight.py with the same query string).

The filter lives in the URL (a GET form), so a view is a bookmark. The pages read with the same
`Reader` guard as the API: a bearer token, or (with the web app) the browser's session cookie.

They render with the web app's templates and layout (api/web/templating.py), which list them in
the navigation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Reader, SessionDep
from api.web.templating import long_date, templates
from core.stages import OPEN_STAGES, Stage
from models import Body, BodyKind, Convention, Meeting, Person, Provision
from services import oversight as service
from services.dashboard import Interval, keyed, utc_today
from services.events import last_transition_id
from services.oversight import DueBucket, OversightFilter, PageRequest, Period

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static" / "oversight"
BASE = "/app/oversight"
PER_PAGE = 50

STAGE_VALUES = frozenset(stage.value for stage in Stage)
DUE_VALUES = frozenset(bucket.value for bucket in DueBucket)
PENDING_VALUES = frozenset(pending.value for pending in service.Pending)
VIEWS = [
    ("coverage", "Mandate coverage"),
    ("cop-readiness", "COP readiness"),
    ("due", "Overdue and due soon"),
    ("flow", "Flow and cycle time"),
    ("transitions", "Recent transitions"),
]


templates.env.globals.update(ov_views=VIEWS, ov_base=BASE, ov_stages=list(Stage), ov_open_stages=OPEN_STAGES)

router = APIRouter(include_in_schema=False)


# --- the filter as it appears in the URL -----------------------------------------------------------


def _ints(values: list[str]) -> tuple[int, ...]:
    return tuple(int(v) for v in values if v.strip().isdigit())


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass
class PageQuery:
    """The query string of a page, read leniently (an empty select means "any")."""

    where: OversightFilter
    start: date | None
    end: date | None
    page: int
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request, *extra_names: str) -> PageQuery:
        params = request.query_params
        stages = tuple(Stage(v) for v in params.getlist("stage") if v in STAGE_VALUES)
        page = params.get("page", "1")
        return cls(
            where=OversightFilter(
                conventions=tuple(v for v in params.getlist("convention") if v),
                thematic_group_ids=_ints(params.getlist("thematic_group")),
                meeting_ids=_ints(params.getlist("meeting")),
                lead_ids=_ints(params.getlist("lead")),
                stages=stages,
            ),
            start=_date(params.get("from")),
            end=_date(params.get("to")),
            page=int(page) if page.isdigit() and 0 < int(page) <= 100_000 else 1,
            extra={name: params[name] for name in extra_names if params.get(name)},
        )

    # A page asks for its filter hundreds of times (a drill-down link per count, the form's
    # choices): it is put into words once per request.
    @cached_property
    def _items(self) -> tuple[tuple[str, Any], ...]:
        w = self.where
        items: list[tuple[str, Any]] = [("convention", c) for c in w.conventions]
        items += [("thematic_group", i) for i in w.thematic_group_ids]
        items += [("lead", i) for i in w.lead_ids]
        items += [("meeting", i) for i in w.meeting_ids]
        items += [("stage", s.value) for s in w.stages]
        if self.start:
            items.append(("from", self.start.isoformat()))
        if self.end:
            items.append(("to", self.end.isoformat()))
        return tuple(items)

    @cached_property
    def _firsts(self) -> dict[str, str]:
        return {key: str(value) for key, value in reversed(self._items)}

    @cached_property
    def _drill_queries(self) -> tuple[str, str]:
        """The filter without its period as a query string: with its stages, and without them."""
        items = [(k, v) for k, v in self._items if k not in ("from", "to")]
        return urlencode(items), urlencode([(k, v) for k, v in items if k != "stage"])

    def filter_items(self) -> list[tuple[str, Any]]:
        """The filter (not the page) as query items, in the form's order."""
        return list(self._items)

    @property
    def active(self) -> bool:
        return bool(self._items)

    def first(self, name: str) -> str:
        return self._firsts.get(name, "")

    def period(self) -> Period:
        return Period.of(self.start, self.end, utc_today())

    def drill(self, **extra: Any) -> str:
        """The activity list behind a count: this filter narrowed by `extra` (a stage given
        there replaces the filter's stages)."""
        with_stages, without_stages = self._drill_queries
        items: list[tuple[str, Any]] = []
        for key, value in extra.items():
            values = value if isinstance(value, list | tuple) else [value]
            items += [(key, v.value if isinstance(v, Stage) else v) for v in values]
        parts = (without_stages if "stage" in extra else with_stages, urlencode(items))
        return f"{BASE}/activities?{'&'.join(part for part in parts if part)}"

    def url(self, path: str, **overrides: Any) -> str:
        """This page's query at `path`; `overrides` replace (None: drop) the page's own extras."""
        kept = [(k, v) for k, v in self.extra.items() if k not in overrides]
        items = [*self.filter_items(), *kept, *((k, v) for k, v in overrides.items() if v is not None)]
        return f"{path}?{urlencode(items)}" if items else path

    def stream(self) -> str:
        """The event stream of the moves of this filter, as far as /events/stream filters them
        (conventions, thematic groups, target meetings)."""
        items = [(k, v) for k, v in self.filter_items() if k in ("convention", "thematic_group", "meeting")]
        return f"/events/stream?{urlencode(items)}" if items else "/events/stream"

    @property
    def streamed_exactly(self) -> bool:
        """The stream's filter is this one: its events are the page's rows (else the page asks its
        own view after each event, for the lead and the stage)."""
        return not (self.where.lead_ids or self.where.stages)

    def export(self, view: str, format: str, **extra: Any) -> str:
        """The download of the rows on screen: the JSON route, the same query, a format."""
        return self.url(f"/oversight/{view}", **extra, format=format)


@dataclass
class Choices:
    """What the filter form offers: the columns it shows, read as rows (no models, so none of
    their relationships: a body's members, a meeting's conventions)."""

    conventions: Sequence[Row[str, str, str]]
    thematic_groups: Sequence[Row[int, str]]
    leads: Sequence[Row[int, str]]
    meetings: Sequence[Row[int, str]]


async def _choices(session: AsyncSession) -> Choices:
    c = Convention
    conventions = select(c.code, c.acronym, c.short_name).order_by(c.acronym)
    groups = select(Body.id, Body.name).where(Body.kind == BodyKind.THEMATIC_GROUP).order_by(Body.name)
    leads = select(Person.id, Person.name).where(Person.active).order_by(Person.name)
    meetings = select(Meeting.id, Meeting.code).order_by(Meeting.starts_on)
    return Choices(
        conventions=(await session.execute(conventions)).all(),
        thematic_groups=(await session.execute(groups)).all(),
        leads=(await session.execute(leads)).all(),
        meetings=(await session.execute(meetings)).all(),
    )


async def _render(
    request: Request, session: AsyncSession, name: str, query: PageQuery, current: str, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        f"oversight/{name}",
        {
            "q": query,
            "current": current,
            "choices": await _choices(session),
            "principal": getattr(request.state, "principal", None),
            "csrf_token": getattr(request.state, "csrf_token", ""),  # the web app's sign-out form
            **context,
        },
        headers={"Cache-Control": "no-store"},
    )


# --- chart data (read by static/oversight/oversight.js) ---------------------------------------------


def _dataset(
    label: str, data: list[Any], links: list[str] | None = None, stage: Stage | None = None
) -> dict[str, Any]:
    return {"label": label, "data": data, "links": links or [], "stage": stage.value if stage else None}


def coverage_chart(view: service.CoverageView, q: PageQuery) -> dict[str, Any]:
    rows = view.provisions
    return {
        "type": "bar",
        "horizontal": True,
        "stacked": True,
        "valueTitle": "Activities",
        "labels": [p.element_code for p in rows],
        "datasets": [
            _dataset(
                stage.label,
                [p.counts[stage] for p in rows],
                [q.drill(provision=p.provision_id, stage=stage) for p in rows],
                stage,
            )
            for stage in Stage
        ],
    }


def readiness_chart(view: service.ReadinessView, q: PageQuery) -> dict[str, Any]:
    rows = view.meetings
    return {
        "type": "bar",
        "horizontal": True,
        "stacked": True,
        "valueTitle": "Activities targeting the meeting",
        "labels": [m.code for m in rows],
        "datasets": [
            _dataset(
                stage.label,
                [m.counts[stage] for m in rows],
                [q.drill(meeting=m.meeting_id, stage=stage) for m in rows],
                stage,
            )
            for stage in Stage
            if stage is not Stage.WITHDRAWN
        ],
    }


def due_chart(view: service.DueView, q: PageQuery) -> dict[str, Any]:
    return {
        "type": "bar",
        "stacked": False,
        "valueTitle": "Open activities",
        "labels": [b.label for b in view.buckets],
        "datasets": [
            _dataset(
                "Activities", [b.count for b in view.buckets], [q.drill(due=b.bucket) for b in view.buckets]
            )
        ],
    }


def cycle_chart(view: service.CycleTimeView, q: PageQuery) -> dict[str, Any]:
    labels = [s.stage.label for s in view.stages]
    links = [q.drill(stage=s.stage) for s in view.stages]
    return {
        "type": "bar",
        "stacked": False,
        "valueTitle": "Days in the stage",
        "labels": labels,
        "datasets": [
            _dataset("Median", [s.median_days for s in view.stages], links),
            _dataset("85th percentile", [s.p85_days for s in view.stages], links),
        ],
    }


def throughput_chart(view: service.ThroughputView, q: PageQuery) -> dict[str, Any]:
    return {
        "type": "bar",
        "stacked": True,
        "valueTitle": "Moves into the stage",
        "labels": [long_date(w.start) for w in view.weeks],
        "datasets": [
            _dataset(stage.label, [w.counts[stage] for w in view.weeks], [], stage)
            for stage in Stage
            if stage is not Stage.THEMATIC_GROUP
        ],
    }


def flow_chart(view: service.FlowView, q: PageQuery) -> dict[str, Any]:
    return {
        "type": "line",
        "stacked": True,
        "area": True,
        "valueTitle": "Activities",
        "labels": [long_date(p.date) for p in view.points],
        "datasets": [
            _dataset(stage.label, [p.counts[stage] for p in view.points], [], stage) for stage in Stage
        ],
    }


# --- pages -----------------------------------------------------------------------------------------


@router.get(BASE)
async def overview(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    """What an executive secretary opens on Monday: the flags, the next deadlines, what is late.
    Only what it shows: the coverage's flags (not every provision's stalled count), the due
    counts (not the list); the filter's conventions resolved once for the three."""
    query = PageQuery.of(request)
    today = utc_today()
    where = await keyed(session, query.where)
    return await _render(
        request,
        session,
        "overview.html",
        query,
        "",
        coverage=await service.coverage_flags(session, where, as_of=today),
        readiness=await service.cop_readiness(session, where, as_of=today),
        due_buckets=await service.due_counts(session, where, as_of=today),
    )


@router.get(f"{BASE}/coverage")
async def coverage_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    query = PageQuery.of(request)
    view = await service.coverage(session, query.where, as_of=utc_today())
    return await _render(
        request, session, "coverage.html", query, "coverage", view=view, chart=coverage_chart(view, query)
    )


@router.get(f"{BASE}/cop-readiness")
async def readiness_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    query = PageQuery.of(request)
    view = await service.cop_readiness(session, query.where, as_of=utc_today())
    return await _render(
        request,
        session,
        "readiness.html",
        query,
        "cop-readiness",
        view=view,
        chart=readiness_chart(view, query),
    )


@router.get(f"{BASE}/due")
async def due_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    query = PageQuery.of(request, "bucket")
    bucket_value = query.extra.get("bucket")
    bucket = DueBucket(bucket_value) if bucket_value in DUE_VALUES else None
    if bucket is None:
        query.extra.pop("bucket", None)
    view = await service.due(
        session, query.where, as_of=utc_today(), bucket=bucket, page=PageRequest(query.page, PER_PAGE)
    )
    return await _render(request, session, "due.html", query, "due", view=view, chart=due_chart(view, query))


@router.get(f"{BASE}/flow")
async def flow_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    query = PageQuery.of(request, "interval")
    interval = Interval.WEEK if query.extra.get("interval") == Interval.WEEK.value else Interval.DAY
    period = query.period()
    if interval is Interval.DAY and (period.end - period.start).days > 366:
        interval = Interval.WEEK  # a point a day over years is unreadable
    cycle = await service.cycle_time(session, query.where, period=period)
    throughput = await service.throughput(session, query.where, period=period)
    flow = await service.cumulative_flow(session, query.where, period=period, interval=interval)
    return await _render(
        request,
        session,
        "flow.html",
        query,
        "flow",
        interval=interval,
        cycle=cycle,
        throughput=throughput,
        flow=flow,
        cycle_chart=cycle_chart(cycle, query),
        throughput_chart=throughput_chart(throughput, query),
        flow_chart=flow_chart(flow, query),
    )


@router.get(f"{BASE}/transitions")
async def transitions_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    """Loaded with its rows, then live (oversight.js) while the period runs to today: new moves
    after the newest transition at the time of reading, which is read before the rows (a move
    recorded in between comes twice, and is shown once)."""
    query = PageQuery.of(request)
    period = query.period()
    newest = await last_transition_id(session)
    view = await service.recent_transitions(
        session, query.where, period=period, page=PageRequest(query.page, PER_PAGE)
    )
    live = view.page == 1 and period.start <= utc_today() <= period.end
    return await _render(
        request, session, "transitions.html", query, "transitions", view=view, live=live, live_after=newest
    )


@router.get(f"{BASE}/activities")
async def activities_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    query = PageQuery.of(request, "provision", "due", "pending")
    provision_id = _ints([query.extra.get("provision", "")])
    due_value, pending_value = query.extra.get("due"), query.extra.get("pending")
    drill = service.Drill(
        provision_id[0] if provision_id else None,
        DueBucket(due_value) if due_value in DUE_VALUES else None,
        service.Pending(pending_value) if pending_value in PENDING_VALUES else None,
    )
    provision = await session.get(Provision, drill.provision_id) if drill.provision_id else None
    view = await service.activity_list(
        session, query.where, drill, as_of=utc_today(), page=PageRequest(query.page, PER_PAGE)
    )
    return await _render(
        request, session, "activities.html", query, "", view=view, drill=drill, provision=provision
    )


def install_oversight_pages(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(f"{BASE}/static", StaticFiles(directory=STATIC_DIR), name="oversight-static")
