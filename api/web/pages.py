"""The web app under /app/: thin handlers that read forms, call the same service functions as the
API (services/lifecycle, the action-entry and notification services) behind the same role
guards (api/deps), and render Jinja2 pages. Every action is a real form (post, then redirect), so
it works without JavaScript; htmx only swaps the board and opens the move dialog in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlencode

import httpx
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import (
    ADMINS,
    COORDINATORS,
    PROGRESS_WRITERS,
    SESSION_COOKIE,
    Coordinator,
    Principal,
    ProgressWriter,
    Reader,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.progress_schemas import (
    ActionEntryCreate,
    ActionEntryUpdate,
    PilotProjectCreate,
    PilotProjectUpdate,
)
from api.web import queries
from api.web.queries import BoardFilter
from api.web.templating import long_date, plain_words, render, stage_name
from core.errors import DomainError, Forbidden, NotFound
from core.stages import GUARDS, Stage, evaluate_moves
from core.versions import etag_for
from models import ActionKind, Activity, Convention, Meeting, Person, Provision
from services import actions, activities, oidc_login, pilot_projects, web_auth
from services import notifications as feed
from services.pagination import PageParams
from services.records import InvalidInput
from workflows import commands

router = APIRouter(include_in_schema=False)

# Where each guard's missing data is filled in on the activity page.
FIX_LINKS = {
    "think_synergies_first": (
        "field-conventions",
        "Add a convention, or record why it involves only one",
    ),
    "task_team_ready": ("field-task_team_id", "Choose a task team with a lead and an end date"),
    "pilot_defined": ("new-pilot-title", "Add a pilot project with a region and countries"),
    "lessons_learned": ("pilots", "Record lessons learned on every pilot project"),
    "target_meeting": ("field-target_meeting_id", "Choose the target COP meeting"),
}
EDITABLE = ("title", "description", "lead_id", "thematic_group_id", "task_team_id", "target_meeting_id")


NEXT_COOKIE = "synergies_next"


def _after_sign_in(request: Request) -> str:
    """The app page the person asked for before signing in, or the board."""
    target = unquote(request.cookies.get(NEXT_COOKIE, ""))
    return target if target.startswith("/app/") and "//" not in target else "/app/"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _saved(session: AsyncSession, url: str) -> RedirectResponse:
    """Commit, then redirect: the request session would commit only once the response is sent,
    and the browser's next GET could overtake it."""
    await session.commit()
    return _redirect(url)


def _activity_url(activity_id: int, notice: str = "", anchor: str = "") -> str:
    query = f"?{urlencode({'notice': notice})}" if notice else ""
    return f"/app/activities/{activity_id}{query}{('#' + anchor) if anchor else ''}"


# --- the front door and sign-in -------------------------------------------------------------------


def _refuse_cross_site(request: Request) -> None:
    """Sign-in forms have no session (so no CSRF token) yet: refuse posts another site made."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("this sign-in form was sent from another site", code="cross_site")


@router.get("/app/sign-in")
async def sign_in_form(request: Request, settings: SettingsDep, sent: bool = False) -> HTMLResponse:
    return render(request, "app/sign_in.html", sent=sent, oidc=oidc_login.enabled(settings))


@router.post("/app/sign-in")
async def request_sign_in_link(
    request: Request, session: SessionDep, settings: SettingsDep, email: Annotated[str, Form()] = ""
) -> Response:
    """Send a link if the address belongs to someone; the answer is the same either way, so the
    page does not tell who has an account. Requests beyond the limit per minute and address of
    the asker send nothing (and say the same)."""
    _refuse_cross_site(request)
    limiter = request.app.state.auth_failures
    client = request.client.host if request.client else "unknown"
    blocked = limiter.retry_after(client) is not None
    person = None if blocked else await web_auth.active_person_by_email(session, email)
    limiter.record(client)
    if person is not None:
        url = await web_auth.issue_sign_in_link(session, person, settings)
        await session.commit()
        try:
            await web_auth.send_sign_in_mail(settings, person, url)
        except OSError:
            pass  # the same answer: an unreachable mail server must not reveal the account either
    return _redirect("/app/sign-in?sent=1")


def _session_cookie(response: Response, secret: str, settings: SettingsDep) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_absolute_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@router.get("/app/sign-in/oidc")
async def oidc_begin(settings: SettingsDep) -> Response:
    """Off to the organisation's sign-in page, with PKCE (declared before the link routes)."""
    if not oidc_login.enabled(settings):
        raise NotFound("sign-in with an organisation account is not configured here")
    async with httpx.AsyncClient() as http:
        provider = await oidc_login.discover(http, settings)
    url, flow = oidc_login.begin(settings, provider)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc_login.FLOW_COOKIE,
        flow,
        max_age=oidc_login.FLOW_SECONDS,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=settings.secure_cookies,
        path=oidc_login.CALLBACK_PATH,
    )
    return response


@router.get(oidc_login.CALLBACK_PATH)
async def oidc_callback(
    request: Request, session: SessionDep, settings: SettingsDep, code: str = "", state: str = ""
) -> Response:
    if not oidc_login.enabled(settings):
        raise NotFound("sign-in with an organisation account is not configured here")
    async with httpx.AsyncClient() as http:
        provider = await oidc_login.discover(http, settings)
        claims = await oidc_login.finish(
            http, settings, provider, request.cookies.get(oidc_login.FLOW_COOKIE), code, state
        )
    person = await oidc_login.person_from_claims(session, settings, claims)
    _, secret = await web_auth.open_session(session, person, settings, request.headers.get("user-agent"))
    response = await _saved(session, _after_sign_in(request))
    if NEXT_COOKIE in request.cookies:
        response.delete_cookie(NEXT_COOKIE)
    response.delete_cookie(oidc_login.FLOW_COOKIE, path=oidc_login.CALLBACK_PATH)
    _session_cookie(response, secret, settings)
    return response


@router.get("/app/sign-in/{token}")
async def sign_in_confirm(request: Request, token: str) -> HTMLResponse:
    """A button rather than signing in on GET: mail scanners open links and would spend them."""
    return render(request, "app/sign_in_confirm.html", token=token)


@router.post("/app/sign-in/{token}")
async def sign_in(request: Request, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    _refuse_cross_site(request)  # another site must not sign this browser in to its own account
    redeemed = await web_auth.redeem_sign_in_link(session, token, settings, request.headers.get("user-agent"))
    if redeemed is None:
        return render(
            request, "app/sign_in.html", status=400, expired=True, oidc=oidc_login.enabled(settings)
        )
    _, secret = redeemed
    response = await _saved(session, _after_sign_in(request))
    if NEXT_COOKIE in request.cookies:
        response.delete_cookie(NEXT_COOKIE)
    _session_cookie(response, secret, settings)
    return response


@router.post("/app/sign-out")
async def sign_out(request: Request, principal: Reader, session: SessionDep) -> Response:
    session_id = getattr(request.state, "web_session_id", None)  # None when signed by a bearer token
    if session_id is not None:
        await web_auth.revoke_session(session, session_id, person_id=principal.person_id)
    response = await _saved(session, "/app/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- board ----------------------------------------------------------------------------------------


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


# --- activity page --------------------------------------------------------------------------------


async def _new_activity_page(
    request: Request,
    session: AsyncSession,
    status: int = 200,
    error: DomainError | None = None,
    **values: Any,
) -> HTMLResponse:
    provisions = list(await session.scalars(select(Provision).order_by(Provision.sort_key, Provision.id)))
    return render(
        request,
        "app/new_activity.html",
        status=status,
        error=error,
        choices=await queries.choices(session),
        provisions=provisions,
        values=values,
    )


@router.get("/app/activities/new")
async def new_activity_form(request: Request, principal: Coordinator, session: SessionDep) -> HTMLResponse:
    return await _new_activity_page(request, session)


@router.post("/app/activities/new")
async def create_activity(
    request: Request,
    principal: Coordinator,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    provisions: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    conventions: Annotated[list[str], Form()] = [],  # noqa: B006
    thematic_group_id: Annotated[str, Form()] = "",
    lead_id: Annotated[str, Form()] = "",
    task_team_id: Annotated[str, Form()] = "",
    target_meeting_id: Annotated[str, Form()] = "",
    single_convention_reason: Annotated[str, Form()] = "",
) -> Response:
    """The same creation as POST /activities: the row, its first transition, its workflow."""
    values: dict[str, Any] = {
        "title": title.strip(),
        "description": description.strip(),
        "provisions": provisions,
        "conventions": conventions or None,  # by default those of the provisions' decisions
        "thematic_group_id": _optional_id(thematic_group_id),
        "lead_id": _optional_id(lead_id),
        "task_team_id": _optional_id(task_team_id),
        "target_meeting_id": _optional_id(target_meeting_id),
        "single_convention_reason": single_convention_reason.strip() or None,
    }
    try:
        if len(values["title"]) < 3:
            raise InvalidInput("Give the activity a title of at least three characters.", field="title")
        if not provisions:
            raise InvalidInput("Choose at least one provision the activity answers.", field="provisions")
        activity = await commands.create_activity(
            session,
            temporal,
            settings,
            principal,
            activities.ActivityDraft(**values, watcher_ids=[principal.person_id], stage_due_on=None),
        )
    except DomainError as error:
        await session.rollback()
        return await _new_activity_page(request, session, status=error.status, error=error, **values)
    return _redirect(_activity_url(activity.id, "Activity created in Thematic group."))


async def _activity_or_404(session: SessionDep, activity_id: int) -> Activity:
    activity = await queries.activity_page(session, activity_id)
    if activity is None:
        raise NotFound(f"activity {activity_id} does not exist")
    return activity


async def _activity_context(
    session: SessionDep, settings: SettingsDep, principal: Principal, activity: Activity
) -> dict[str, Any]:
    transitions = await activities.transitions_of(session, activity.id)
    reminders = await activities.reminders_of(session, activity.id)
    entries = await queries.history(session, activity.id, transitions)
    names = await queries.people_named(
        session,
        {entry.actor_id for entry in entries}
        | {a.author_id for a in activity.actions}
        | {r.acknowledged_by_id for r in reminders}
        | {w.id for w in activity.watchers},
    )
    can_write = PROGRESS_WRITERS.admits(principal.role)
    if can_write:
        try:
            await activities.ensure_progress_writer(session, principal, activity)
        except DomainError:
            can_write = False
    return {
        "activity": activity,
        "history": entries,
        "reminders": list(reversed(reminders)),
        "open_reminder": next((r for r in reversed(reminders) if r.acknowledged_at is None), None),
        "names": names,
        "can_edit": COORDINATORS.admits(principal.role),
        "can_move": COORDINATORS.admits(principal.role) and Stage(activity.stage).is_open,
        "can_record": can_write,
        "watching": any(w.id == principal.person_id for w in activity.watchers),
        "can_watch": PROGRESS_WRITERS.admits(principal.role) and Stage(activity.stage).is_open,
        "temporal_url": settings.temporal_workflow_url(activity.id)
        if ADMINS.admits(principal.role)
        else None,
        "choices": await queries.choices(session),
        "due_state": queries.due_state,
        "action_kinds": list(ActionKind),
        "provisions": list(
            await session.scalars(select(Provision).order_by(Provision.sort_key, Provision.id))
        )
        if COORDINATORS.admits(principal.role)
        else [],
        "today": date.today(),
    }


@router.get("/app/activities/{activity_id}")
async def activity_page(
    request: Request,
    activity_id: int,
    principal: Reader,
    session: SessionDep,
    settings: SettingsDep,
    notice: str = "",
) -> HTMLResponse:
    activity = await _activity_or_404(session, activity_id)
    context = await _activity_context(session, settings, principal, activity)
    return render(request, "app/activity.html", notice=notice[:300], **context)


def _optional_id(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


@router.post("/app/activities/{activity_id}/edit")
async def edit_activity(
    request: Request,
    activity_id: int,
    principal: Coordinator,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    version: Annotated[int, Form()],
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    lead_id: Annotated[str, Form()] = "",
    thematic_group_id: Annotated[str, Form()] = "",
    task_team_id: Annotated[str, Form()] = "",
    target_meeting_id: Annotated[str, Form()] = "",
    stage_due_on: Annotated[str, Form()] = "",
    single_convention_reason: Annotated[str, Form()] = "",
    conventions: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    provisions: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    activity = await _activity_or_404(session, activity_id)
    wanted: dict[str, Any] = {
        "title": title.strip(),
        "description": description.strip(),
        "lead_id": _optional_id(lead_id),
        "thematic_group_id": _optional_id(thematic_group_id),
        "task_team_id": _optional_id(task_team_id),
        "target_meeting_id": _optional_id(target_meeting_id),
        "single_convention_reason": single_convention_reason.strip() or None,
    }
    if Stage(activity.stage).is_open and stage_due_on:
        try:
            wanted["stage_due_on"] = date.fromisoformat(stage_due_on)
        except ValueError:
            return _redirect(
                _activity_url(activity_id, "The due date is not a date; nothing was saved.", "edit")
            )
    changes = {name: value for name, value in wanted.items() if getattr(activity, name) != value}
    if "title" in changes and not changes["title"]:
        changes.pop("title")  # a title cannot be emptied
    # An activity keeps at least one convention and one provision: an empty choice changes nothing.
    if conventions and sorted(conventions) != sorted(activity.convention_codes):
        changes["conventions"] = conventions
    if provisions and sorted(provisions) != sorted(activity.provision_codes):
        changes["provisions"] = provisions
    if not changes:
        return _redirect(_activity_url(activity_id, "Nothing to change."))
    try:
        await commands.edit_activity(
            session, temporal, settings, principal, activity, changes, etag_for(version)
        )
    except DomainError as error:
        activity = await _activity_or_404(session, activity_id)
        context = await _activity_context(session, settings, principal, activity)
        return render(request, "app/activity.html", status=error.status, edit_error=error, **context)
    return _redirect(_activity_url(activity_id, "Saved."))


# --- moving ---------------------------------------------------------------------------------------


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
    activity = await _activity_or_404(session, activity_id)
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
            meeting_id=_optional_id(meeting_id),
        )
        moved, _ = await commands.move_activity(
            session, temporal, settings, principal, activity_id, command, request_id[:100] or None
        )
    except (DomainError, ValueError) as error:
        problem = error if isinstance(error, DomainError) else DomainError(str(error), status=422)
        activity = await _activity_or_404(session, activity_id)
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
        response.headers["HX-Redirect"] = _activity_url(activity_id, notice)
        return response
    return _redirect(_activity_url(activity_id, notice))


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
    """Move the selected cards one by one, each exactly like a move from its dialog; one result
    per card. Each card's key is the form's request id and the activity, so a resubmitted form
    moves nothing twice."""
    if to not in {stage.value for stage in Stage}:
        raise InvalidInput(f"to: {to!r} is not a stage", field="to")
    target = Stage(to)
    results = []
    for value in selected[:200]:
        activity_id, _, version = value.partition(":")
        if not (activity_id.isdigit() and version.isdigit()):
            continue
        async with request.app.state.sessionmaker() as session:
            activity = await session.get(Activity, int(activity_id))
            if activity is None:
                continue
            title = activity.title
            try:
                command = commands.MoveCommand(target, int(version), reason.strip() or None)
                key = f"{request_id[:60]}-{activity_id}"
                moved, _ = await commands.move_activity(
                    session, temporal, settings, principal, int(activity_id), command, key
                )
                await session.commit()
                results.append(BulkResult(moved.id, title, True, f"Moved to {stage_name(moved.stage)}."))
            except DomainError as error:
                await session.rollback()
                results.append(BulkResult(int(activity_id), title, False, plain_words(error.detail)))
    notice = f"{sum(result.moved for result in results)} of {len(results)} moved."
    return render(request, "app/bulk_result.html", results=results, target=target, notice=notice)


# --- progress: actions, reminders, watching ---------------------------------------------------------


def _action_form(
    kind: Annotated[str, Form()], on_date: Annotated[str, Form()], text: Annotated[str, Form()]
) -> dict[str, Any]:
    """An action entry's form, as the fields of ActionEntryCreate/Update (they validate it)."""
    return {"kind": kind, "on_date": on_date, "text": text.strip()}


def _pilot_form(
    title: Annotated[str, Form()],
    region: Annotated[str, Form()] = "",
    countries: Annotated[str, Form()] = "",
    lessons_learned: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """A pilot project's form, as the fields of PilotProjectCreate/Update (they validate it)."""
    return {
        "title": title.strip(),
        "region": region.strip() or None,
        "countries": [part.strip() for part in countries.replace(";", ",").split(",") if part.strip()],
        "lessons_learned": lessons_learned.strip() or None,
    }


ActionForm = Annotated[dict[str, Any], Depends(_action_form)]
PilotForm = Annotated[dict[str, Any], Depends(_pilot_form)]


@router.post("/app/activities/{activity_id}/actions")
async def add_action(
    request: Request,
    activity_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    form: ActionForm,
) -> Response:
    activity = await activities.get_activity(session, activity_id)
    await activities.ensure_progress_writer(session, principal, activity)
    try:
        data = ActionEntryCreate(**form)
    except ValidationError:
        return _redirect(_activity_url(activity_id, "Give the date and what was done.", "actions"))
    await actions.create_action(session, activity.id, principal.person_id, data.model_dump())
    return await _saved(session, _activity_url(activity_id, "Action recorded.", "actions"))


@router.post("/app/actions/{action_id}")
async def edit_action(
    action_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    version: Annotated[int, Form()],
    form: ActionForm,
) -> Response:
    action = await activities.writable_record(session, principal, actions.ACTIONS, action_id)
    try:
        data = ActionEntryUpdate(**form)
    except ValidationError:
        return _redirect(_activity_url(action.activity_id, "Give the date and what was done.", "actions"))
    await actions.ACTIONS.update(session, action, data.model_dump(exclude_unset=True), etag_for(version))
    return await _saved(session, _activity_url(action.activity_id, "Action saved.", "actions"))


@router.post("/app/activities/{activity_id}/pilots")
async def add_pilot(
    activity_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    form: PilotForm,
) -> Response:
    activity = await activities.get_activity(session, activity_id)
    await activities.ensure_progress_writer(session, principal, activity)
    try:
        data = PilotProjectCreate(**form)
    except ValidationError:
        return _redirect(_activity_url(activity_id, "A pilot project needs a title.", "pilots"))
    await pilot_projects.create_pilot(session, activity.id, data.model_dump())
    return await _saved(session, _activity_url(activity_id, "Pilot project added.", "pilots"))


@router.post("/app/pilots/{pilot_id}")
async def edit_pilot(
    pilot_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    version: Annotated[int, Form()],
    form: PilotForm,
) -> Response:
    pilot = await activities.writable_record(session, principal, pilot_projects.PILOTS, pilot_id)
    try:
        data = PilotProjectUpdate(**form)
    except ValidationError:
        return _redirect(_activity_url(pilot.activity_id, "A pilot project needs a title.", "pilots"))
    await pilot_projects.PILOTS.update(session, pilot, data.model_dump(exclude_unset=True), etag_for(version))
    return await _saved(session, _activity_url(pilot.activity_id, "Pilot project saved.", "pilots"))


@router.post("/app/activities/{activity_id}/reminders/acknowledge")
async def acknowledge(
    activity_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    note: Annotated[str, Form()] = "",
) -> Response:
    activity = await activities.get_activity(session, activity_id)
    await activities.ensure_progress_writer(session, principal, activity)
    await commands.acknowledge(session, temporal, settings, principal, activity, note.strip() or None)
    return _redirect(_activity_url(activity_id, "Reminder acknowledged.", "reminders"))


@router.post("/app/activities/{activity_id}/reminders/snooze")
async def snooze(
    activity_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    until: Annotated[date, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    activity = await activities.get_activity(session, activity_id)
    await activities.ensure_progress_writer(session, principal, activity)
    await commands.snooze(session, temporal, settings, principal, activity, until, note.strip() or None)
    return _redirect(_activity_url(activity_id, f"Reminders snoozed until {long_date(until)}.", "reminders"))


@router.post("/app/activities/{activity_id}/watch")
async def watch(
    activity_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    watching: Annotated[bool, Form()],
) -> Response:
    """Watch or stop watching (oneself only), through the same workflow edit as any field."""
    activity = await activities.get_activity(session, activity_id)
    watchers = {person.id for person in activity.watchers}
    wanted = watchers | {principal.person_id} if watching else watchers - {principal.person_id}
    if wanted != watchers:
        await commands.edit_activity(
            session, temporal, settings, principal, activity, {"watcher_ids": sorted(wanted)}, None
        )
    return _redirect(_activity_url(activity_id, "Watching." if watching else "No longer watching."))


# --- my work, notifications, sessions, reports ----------------------------------------------------


async def _my_work(
    request: Request, principal: Principal, session: AsyncSession, new_feed_url: str | None = None
) -> HTMLResponse:
    activities = await queries.my_activities(session, principal.person_id)
    notes, _, unread = await feed.list_notifications(
        session, principal.person_id, unread=False, page=PageParams(sort="-id", cursor=None, limit=30)
    )
    return render(
        request,
        "app/my_work.html",
        activities=activities,
        reminders=await queries.open_reminders(session, [a.id for a in activities]),
        notifications=notes,
        unread=unread,
        due_state=queries.due_state,
        can_subscribe=PROGRESS_WRITERS.admits(principal.role),
        has_feed=await web_auth.calendar_feed_of(session, principal.person_id) is not None,
        new_feed_url=new_feed_url,
    )


@router.get("/app/my-work")
async def my_work(request: Request, principal: Reader, session: SessionDep) -> HTMLResponse:
    return await _my_work(request, principal, session)


@router.post("/app/calendar-feed")
async def new_calendar_feed(
    request: Request, principal: ProgressWriter, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """A new feed address, shown once on the page (never put in a redirect's URL or a log)."""
    url = await web_auth.new_calendar_feed(session, principal.person_id, settings)
    await session.commit()
    return await _my_work(request, principal, session, new_feed_url=url)


@router.post("/app/calendar-feed/stop")
async def stop_calendar_feed(principal: ProgressWriter, session: SessionDep) -> Response:
    await web_auth.revoke_calendar_feed(session, principal.person_id)
    return await _saved(session, "/app/my-work#calendar")


@router.get("/app/settings/notifications")
async def notification_settings(
    request: Request, principal: Reader, session: SessionDep, saved: bool = False
) -> HTMLResponse:
    """Where every mail's List-Unsubscribe and footer point: how often, own changes, conventions."""
    person = await session.get(Person, principal.person_id)
    if person is None:
        raise NotFound("no such person")
    return render(
        request,
        "app/notification_settings.html",
        digest=feed.digest_of(person),
        own=person.notify_own_changes,
        mine=await feed.my_conventions(session, person.id),
        conventions=list(await session.scalars(select(Convention).order_by(Convention.code))),
        saved=saved,
    )


@router.post("/app/settings/notifications")
async def save_notification_settings(
    principal: Reader,
    session: SessionDep,
    digest: Annotated[Literal["off", "daily", "weekly"], Form()] = "off",
    notify_own_changes: Annotated[bool, Form()] = False,
    conventions: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """The same change as PATCH /me."""
    changes = {"digest": digest, "notify_own_changes": notify_own_changes, "conventions": conventions}
    await feed.update_me(session, principal.person_id, changes)
    return await _saved(session, "/app/settings/notifications?saved=1")


@router.post("/app/notifications/{notification_id}/read")
async def read_notification(notification_id: int, principal: Reader, session: SessionDep) -> Response:
    await feed.mark_read(session, principal.person_id, notification_id)
    return await _saved(session, "/app/my-work#notifications")


@router.post("/app/notifications/read-all")
async def read_all_notifications(principal: Reader, session: SessionDep) -> Response:
    await feed.mark_all_read(session, principal.person_id)
    return await _saved(session, "/app/my-work#notifications")


@router.get("/app/sessions")
async def sessions_page(request: Request, principal: Reader, session: SessionDep) -> HTMLResponse:
    everyone = ADMINS.admits(principal.role)
    rows = await web_auth.sessions_of(session, None if everyone else principal.person_id)
    return render(
        request,
        "app/sessions.html",
        sessions=rows,
        everyone=everyone,
        current=getattr(request.state, "web_session_id", None),
    )


@router.post("/app/sessions/{session_id}/revoke")
async def revoke(session_id: int, principal: Reader, session: SessionDep) -> Response:
    everyone = ADMINS.admits(principal.role)
    if not await web_auth.revoke_session(
        session, session_id, person_id=None if everyone else principal.person_id
    ):
        raise NotFound(f"session {session_id} does not exist or is already signed out")
    return await _saved(session, "/app/sessions")


@router.get("/app/reports")
async def reports_page(
    request: Request,
    principal: Reader,
    session: SessionDep,
    meeting: str = "",
    format: str = "",
    as_of: str = "",
    variant: str = "document",
    lang: str = "en",
) -> Response:
    """Pick a meeting, a variant, a language and a format; the download itself is the API's
    /reports route, which accepts the browser's session like a token (and refuses bad values)."""
    if meeting and format:
        query = {"format": format, "variant": variant, "lang": lang, **({"as_of": as_of} if as_of else {})}
        return _redirect(f"/reports/meetings/{meeting}?{urlencode(query)}")
    meetings = list(await session.scalars(select(Meeting).order_by(Meeting.starts_on.desc())))
    return render(request, "app/reports.html", meetings=meetings)
