"""The board and the stage list, and moving activities (one, or several at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from api.deps import COORDINATORS, Coordinator, Principal, Reader, SessionDep, SettingsDep, TemporalDep
from api.web import queries
from api.web.pages.activity import activity_or_404, optional_id
from api.web.pages.common import FIX_LINKS, activity_url, see_other
from api.web.queries import BoardFilter
from api.web.templating import plain_words, render, stage_name
from core.errors import DomainError
from core.stages import GUARDS, Stage, evaluate_moves
from models import Activity
from services import activities
from services.records import InvalidInput
from workflows import commands

router = APIRouter(include_in_schema=False)


def _board_filter(
    convention: str = "",
    thematic_group: str = "",
    lead: str = "",
    meeting: str = "",
    due: str = "",
    q: str = "",
) -> BoardFilter:
    """The filter from the URL; a value that is not one of the form's choices is ignored."""

    def number(value: str) -> int | None:
        return int(value) if value.strip().isdigit() else None

    return BoardFilter(
        convention=convention.strip(),
        thematic_group=number(thematic_group),
        lead=number(lead),
        meeting=number(meeting),
        due=due if due in queries.DUE_CHOICES else "",
        q=q.strip()[:200],
    )


@router.get("/app/")
async def board(
    request: Request,
    principal: Reader,
    session: SessionDep,
    selected: Annotated[BoardFilter, Depends(_board_filter)],
) -> HTMLResponse:
    columns = await queries.board_columns(session, selected)
    context: dict[str, Any] = {
        "filter": selected,
        "columns": columns,
        "choices": await queries.choices(session),
        "can_move": COORDINATORS.admits(principal.role),
        "due_state": queries.due_state,
        "total": sum(column.count for column in columns),
        "column_limit": queries.COLUMN_LIMIT,
        "stages": list(Stage),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "board":
        return render(request, "app/_board.html", **context)
    return render(request, "app/board.html", **context)


@router.get("/app/list")
async def stage_list(
    request: Request,
    principal: Reader,
    session: SessionDep,
    selected: Annotated[BoardFilter, Depends(_board_filter)],
    stage: str = Stage.THEMATIC_GROUP.value,
    cursor: str | None = None,
) -> HTMLResponse:
    """Every open activity of one stage that matches the filter, a page at a time (the board
    shows the first of each column)."""
    if stage not in {s.value for s in Stage if s.is_open}:
        raise InvalidInput(f"stage: {stage!r} is not an open stage", field="stage")
    rows, next_cursor = await queries.stage_list(session, selected, Stage(stage), cursor)
    next_url = None
    if next_cursor:
        next_url = "/app/list?" + urlencode(
            [*selected.query_items(), ("stage", stage), ("cursor", next_cursor)]
        )
    return render(
        request,
        "app/list.html",
        filter=selected,
        stage=Stage(stage),
        rows=rows,
        next_url=next_url,
        choices=await queries.choices(session),
        due_state=queries.due_state,
    )


async def _move_context(session: SessionDep, principal: Principal, activity: Activity) -> dict[str, Any]:
    facts = await activities.gather_facts(session, activity)
    options = []
    for option in evaluate_moves(Stage(activity.stage), role=principal.role, facts=facts):
        fixes = [
            FIX_LINKS[guard.name]
            for guard in GUARDS
            if guard.applies(option.move) and guard.check(facts) and guard.name in FIX_LINKS
        ]
        options.append({"option": option, "fixes": fixes})
    return {"activity": activity, "options": options, "meetings": (await queries.choices(session)).meetings}


@router.get("/app/activities/{activity_id}/move")
async def move_dialog(
    request: Request, activity_id: int, principal: Coordinator, session: SessionDep, notice: str = ""
) -> HTMLResponse:
    activity = await activity_or_404(session, activity_id)
    context = await _move_context(session, principal, activity)
    template = "app/_move.html" if request.headers.get("HX-Request") else "app/move.html"
    return render(request, template, notice=notice[:300], **context)


@router.post("/app/activities/{activity_id}/move")
async def move(
    request: Request,
    activity_id: int,
    principal: Coordinator,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    to: Annotated[str, Form()],
    version: Annotated[int, Form()],
    request_id: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    meeting_id: Annotated[str, Form()] = "",
) -> Response:
    """The same move as POST /activities/{id}/transitions; the form's request id is the
    idempotency key, so a double submit moves once."""
    try:
        command = commands.MoveCommand(
            to=Stage(to),
            expected_version=version,
            reason=reason.strip() or None,
            meeting_id=optional_id(meeting_id),
        )
        moved, _ = await commands.move_activity(
            session, temporal, settings, principal, activity_id, command, request_id[:100] or None
        )
    except (DomainError, ValueError) as error:
        problem = error if isinstance(error, DomainError) else DomainError(str(error), status=422)
        activity = await activity_or_404(session, activity_id)
        context = await _move_context(session, principal, activity)
        stale = activity.version != version  # changed since the dialog was opened
        latest = []
        if stale:
            transitions = await activities.transitions_of(session, activity_id)
            latest = (await queries.history(session, activity_id, transitions))[:3]
        names = await queries.people_named(session, {entry.actor_id for entry in latest})
        template = "app/_move.html" if request.headers.get("HX-Request") else "app/move.html"
        return render(
            request,
            template,
            status=problem.status,
            error=problem,
            stale=stale,
            latest=latest,
            names=names,
            chosen=to,
            reason=reason,
            **context,
        )
    notice = f"Moved to {stage_name(moved.stage)}."
    if request.headers.get("HX-Request"):
        response = Response(status_code=204)
        response.headers["HX-Redirect"] = activity_url(activity_id, notice)
        return response
    return see_other(activity_url(activity_id, notice))


@dataclass(frozen=True)
class BulkResult:
    activity_id: int
    title: str
    moved: bool
    message: str


@router.post("/app/bulk-move")
async def bulk_move(
    request: Request,
    principal: Coordinator,
    settings: SettingsDep,
    temporal: TemporalDep,
    to: Annotated[str, Form()],
    request_id: Annotated[str, Form()],
    selected: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    reason: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Move the selected cards, each exactly like a move from its dialog (parallel Updates, as
    the API's bulk move); one result per card. Each card's key is the form's request id and the
    activity, so a resubmitted form moves nothing twice."""
    if to not in {stage.value for stage in Stage}:
        raise InvalidInput(f"to: {to!r} is not a stage", field="to")
    target = Stage(to)
    chosen: list[tuple[int, int]] = []
    for value in selected[:200]:
        raw_id, _, raw_version = value.partition(":")
        if raw_id.isdigit() and raw_version.isdigit():
            chosen.append((int(raw_id), int(raw_version)))
    async with request.app.state.sessionmaker() as session:
        rows = await session.execute(
            select(Activity.id, Activity.title).where(Activity.id.in_([a for a, _ in chosen]))
        )
        titles = dict(rows.tuples().all())
    chosen = [(a, v) for a, v in chosen if a in titles]
    moves = [
        commands.BulkMove(
            a, commands.MoveCommand(target, v, reason.strip() or None), f"{request_id[:60]}-{a}"
        )
        for a, v in chosen
    ]
    outcomes = await commands.move_many(request.app.state.sessionmaker, temporal, settings, principal, moves)
    results = []
    for (activity_id, _version), outcome in zip(chosen, outcomes, strict=True):
        title = titles[activity_id]
        if isinstance(outcome, DomainError):
            results.append(BulkResult(activity_id, title, False, plain_words(outcome.detail)))
        else:
            moved = outcome[0]
            results.append(BulkResult(moved.id, title, True, f"Moved to {stage_name(moved.stage)}."))
    notice = f"{sum(result.moved for result in results)} of {len(results)} moved."
    return render(request, "app/bulk_result.html", results=results, target=target, notice=notice)
