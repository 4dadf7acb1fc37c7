"""The activity page and its forms: create, edit, actions, pilot projects, reminders, watching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import (
    ADMINS,
    COORDINATORS,
    PROGRESS_WRITERS,
    Coordinator,
    Principal,
    ProgressWriter,
    Reader,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.progress_schemas import ActionEntryCreate, ActionEntryUpdate, PilotProjectCreate, PilotProjectUpdate
from api.web import queries
from api.web.pages.common import activity_url, commit_and_see_other, see_other
from api.web.templating import long_date, render
from core.errors import DomainError, NotFound
from core.stages import Stage
from core.versions import etag_for
from models import ActionKind, Activity, Provision
from services import actions, activities, pilot_projects
from services.records import InvalidInput, Records
from workflows import commands

router = APIRouter(include_in_schema=False)


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


@dataclass(frozen=True)
class ActivityForm:
    """What the new-activity form and the activity's edit form share: `fields` as the lifecycle
    service takes them (ids that are not numbers count as none), and the chosen conventions and
    provisions."""

    fields: dict[str, Any]
    conventions: list[str]
    provisions: list[str]


def activity_form(
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    lead_id: Annotated[str, Form()] = "",
    thematic_group_id: Annotated[str, Form()] = "",
    task_team_id: Annotated[str, Form()] = "",
    target_meeting_id: Annotated[str, Form()] = "",
    single_convention_reason: Annotated[str, Form()] = "",
    conventions: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    provisions: Annotated[list[str], Form()] = [],  # noqa: B006
) -> ActivityForm:
    fields = {
        "title": title.strip(),
        "description": description.strip(),
        "lead_id": optional_id(lead_id),
        "thematic_group_id": optional_id(thematic_group_id),
        "task_team_id": optional_id(task_team_id),
        "target_meeting_id": optional_id(target_meeting_id),
        "single_convention_reason": single_convention_reason.strip() or None,
    }
    return ActivityForm(fields, conventions, provisions)


ActivityFormDep = Annotated[ActivityForm, Depends(activity_form)]


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
    form: ActivityFormDep,
) -> Response:
    """The same creation as POST /activities: the row, its first transition, its workflow."""
    values: dict[str, Any] = {
        **form.fields,
        "provisions": form.provisions,
        "conventions": form.conventions or None,  # by default those of the provisions' decisions
    }
    try:
        if len(values["title"]) < 3:
            raise InvalidInput("Give the activity a title of at least three characters.", field="title")
        if not form.provisions:
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
    return see_other(activity_url(activity.id, "Activity created in Thematic group."))


async def activity_or_404(session: SessionDep, activity_id: int) -> Activity:
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
    activity = await activity_or_404(session, activity_id)
    context = await _activity_context(session, settings, principal, activity)
    return render(request, "app/activity.html", notice=notice[:300], **context)


def optional_id(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


@router.post("/app/activities/{activity_id}/edit")
async def edit_activity(
    request: Request,
    activity_id: int,
    principal: Coordinator,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    form: ActivityFormDep,
    version: Annotated[int, Form()],
    stage_due_on: Annotated[str, Form()] = "",
) -> Response:
    activity = await activity_or_404(session, activity_id)
    wanted: dict[str, Any] = dict(form.fields)
    if Stage(activity.stage).is_open and stage_due_on:
        try:
            wanted["stage_due_on"] = date.fromisoformat(stage_due_on)
        except ValueError:
            return see_other(
                activity_url(activity_id, "The due date is not a date; nothing was saved.", "edit")
            )
    changes = {name: value for name, value in wanted.items() if getattr(activity, name) != value}
    if "title" in changes and not changes["title"]:
        changes.pop("title")  # a title cannot be emptied
    # An activity keeps at least one convention and one provision: an empty choice changes nothing.
    if form.conventions and sorted(form.conventions) != sorted(activity.convention_codes):
        changes["conventions"] = form.conventions
    if form.provisions and sorted(form.provisions) != sorted(activity.provision_codes):
        changes["provisions"] = form.provisions
    if not changes:
        return see_other(activity_url(activity_id, "Nothing to change."))
    try:
        await commands.edit_activity(
            session, temporal, settings, principal, activity, changes, etag_for(version)
        )
    except DomainError as error:
        activity = await activity_or_404(session, activity_id)
        context = await _activity_context(session, settings, principal, activity)
        return render(request, "app/activity.html", status=error.status, edit_error=error, **context)
    return see_other(activity_url(activity_id, "Saved."))


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


@dataclass(frozen=True)
class _ProgressForm:
    """Where a progress form sends its user back, and what it says when refused or saved."""

    anchor: str
    invalid: str
    added: str
    saved: str


ACTION_FORM = _ProgressForm(
    "actions", "Give the date and what was done.", "Action recorded.", "Action saved."
)
PILOT_FORM = _ProgressForm(
    "pilots", "A pilot project needs a title.", "Pilot project added.", "Pilot project saved."
)


async def _add_progress(
    session: AsyncSession,
    principal: Principal,
    activity_id: int,
    schema: type[BaseModel],
    form: dict[str, Any],
    shape: _ProgressForm,
    create: Callable[[Activity, dict[str, Any]], Awaitable[object]],
) -> Response:
    """Add an action entry or a pilot project from its form: the same checks as the API."""
    activity = await activities.get_activity(session, activity_id)
    await activities.ensure_progress_writer(session, principal, activity)
    try:
        data = schema(**form)
    except ValidationError:
        return see_other(activity_url(activity_id, shape.invalid, shape.anchor))
    await create(activity, data.model_dump())
    return await commit_and_see_other(session, activity_url(activity_id, shape.added, shape.anchor))


async def _edit_progress(
    session: AsyncSession,
    principal: Principal,
    records: Records[Any],
    record_id: int,
    schema: type[BaseModel],
    form: dict[str, Any],
    version: int,
    shape: _ProgressForm,
) -> Response:
    """Edit an action entry or a pilot project from its form: the same checks as the API."""
    row = await activities.writable_record(session, principal, records, record_id)
    try:
        data = schema(**form)
    except ValidationError:
        return see_other(activity_url(row.activity_id, shape.invalid, shape.anchor))
    await records.update(session, row, data.model_dump(exclude_unset=True), etag_for(version))
    return await commit_and_see_other(session, activity_url(row.activity_id, shape.saved, shape.anchor))


@router.post("/app/actions/{action_id}")
async def edit_action(
    action_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    version: Annotated[int, Form()],
    form: ActionForm,
) -> Response:
    return await _edit_progress(
        session, principal, actions.ACTIONS, action_id, ActionEntryUpdate, form, version, ACTION_FORM
    )


@router.post("/app/activities/{activity_id}/actions")
async def add_action(
    activity_id: int, principal: ProgressWriter, session: SessionDep, form: ActionForm
) -> Response:
    async def create(activity: Activity, data: dict[str, Any]) -> object:
        return await actions.create_action(session, activity.id, principal.person_id, data)

    return await _add_progress(session, principal, activity_id, ActionEntryCreate, form, ACTION_FORM, create)


@router.post("/app/activities/{activity_id}/pilots")
async def add_pilot(
    activity_id: int, principal: ProgressWriter, session: SessionDep, form: PilotForm
) -> Response:
    async def create(activity: Activity, data: dict[str, Any]) -> object:
        return await pilot_projects.create_pilot(session, activity.id, data)

    return await _add_progress(session, principal, activity_id, PilotProjectCreate, form, PILOT_FORM, create)


@router.post("/app/pilots/{pilot_id}")
async def edit_pilot(
    pilot_id: int,
    principal: ProgressWriter,
    session: SessionDep,
    version: Annotated[int, Form()],
    form: PilotForm,
) -> Response:
    return await _edit_progress(
        session, principal, pilot_projects.PILOTS, pilot_id, PilotProjectUpdate, form, version, PILOT_FORM
    )


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
    return see_other(activity_url(activity_id, "Reminder acknowledged.", "reminders"))


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
    return see_other(activity_url(activity_id, f"Reminders snoozed until {long_date(until)}.", "reminders"))


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
    return see_other(activity_url(activity_id, "Watching." if watching else "No longer watching."))
