"""An activity's record as the services read it: the row, its log, the facts the stage machine's
guards read, the checks of the references a create or an edit names, the list's filters, and who
may record progress (pilot projects, action entries) on it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, and_, not_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.errors import Forbidden, NotFound
from core.settings import Settings
from core.stages import OPEN_STAGES, ActivityFacts, PilotFacts, Role, Stage
from models import (
    Activity,
    Body,
    BodyKind,
    Convention,
    Meeting,
    Person,
    PilotProject,
    Provision,
    ReminderEvent,
    TaskTeam,
    Transition,
    utcnow,
)
from services.accounts import Principal
from services.due_dates import due_date_on_entry
from services.pagination import Sorting
from services.records import InvalidInput, Records, contains_text, get_or_404, load_by_keys, require_reference
from services.transitions import TransitionRecord, record_transition

E = TypeVar("E")


def today() -> date:
    """The date overdue is judged against (UTC), the same for the flag and the filter."""
    return datetime.now(UTC).date()


SORTING = Sorting.of(
    Activity,
    "id",
    "title",
    "stage",
    "stage_due_on",
    "stage_entered_at",
    "created_at",
    "updated_at",
    default="id",
)


@dataclass(frozen=True)
class ActivityFilters:
    stage: list[Stage] | None = None
    convention: str | None = None
    thematic_group: int | None = None
    lead: int | None = None
    overdue: bool | None = None
    provision: str | None = None
    q: str | None = None


def activity_query(filters: ActivityFilters) -> Select[Any]:
    """The activities matching `filters`; portable between SQLite and PostgreSQL."""
    statement = select(Activity)
    if filters.stage:
        statement = statement.where(Activity.stage.in_(filters.stage))
    if filters.convention:
        statement = statement.where(Activity.conventions.any(Convention.code == filters.convention))
    if filters.thematic_group is not None:
        statement = statement.where(Activity.thematic_group_id == filters.thematic_group)
    if filters.lead is not None:
        statement = statement.where(Activity.lead_id == filters.lead)
    if filters.provision:
        statement = statement.where(Activity.provisions.any(Provision.element_code == filters.provision))
    if filters.overdue is not None:
        late = and_(Activity.stage.in_(OPEN_STAGES), Activity.stage_due_on < today())
        statement = statement.where(late if filters.overdue else not_(late))
    if filters.q:
        statement = statement.where(contains_text(filters.q, Activity.title, Activity.description))
    return statement


async def get_activity(session: AsyncSession, activity_id: int) -> Activity:
    """The activity (conventions, provisions and watchers loaded), or a 404 problem."""
    return await get_or_404(session, Activity, activity_id, label="activity")


async def ensure_progress_writer(session: AsyncSession, principal: Principal, activity: Activity) -> None:
    """Task team leads record progress only on activities they lead, directly or as team lead."""
    if principal.role is not Role.TASK_TEAM_LEAD or activity.lead_id == principal.person_id:
        return
    if activity.task_team_id is not None:
        team_lead = await session.scalar(select(TaskTeam.lead_id).where(TaskTeam.id == activity.task_team_id))
        if team_lead == principal.person_id:
            return
    raise Forbidden(
        f"a task team lead may record progress only on activities they lead; activity "
        f"{activity.id} is led by someone else"
    )


async def writable_record(session: AsyncSession, principal: Principal, records: Records[E], key: int) -> E:
    """A progress record (pilot project, action entry), once the caller is allowed to record
    progress on its activity."""
    row = await records.get(session, key)
    activity = await get_activity(session, row.activity_id)  # type: ignore[attr-defined]
    await ensure_progress_writer(session, principal, activity)
    return row


# The guard facts' columns, one row per pilot project (one row with NULLs for none): the task
# team, the target meeting and the pilots joined to the activity, so that a move reads its
# activity and everything its guards need in one statement.
_TARGET = aliased(Meeting)
_FACT_COLUMNS = (
    TaskTeam.lead_id.label("task_team_lead_id"),
    TaskTeam.ends_on.label("task_team_ends_on"),
    _TARGET.starts_on.label("target_starts_on"),
    _TARGET.document_deadline_override.label("target_deadline_override"),
    PilotProject.id.label("pilot_id"),
    PilotProject.region.label("pilot_region"),
    PilotProject.countries.label("pilot_countries"),
    PilotProject.lessons_learned.label("pilot_lessons"),
)


def _facts_select(*head: Any) -> Select[Any]:
    return (
        select(*head, *_FACT_COLUMNS)
        .select_from(Activity)
        .outerjoin(TaskTeam, TaskTeam.id == Activity.task_team_id)
        .outerjoin(_TARGET, _TARGET.id == Activity.target_meeting_id)
        .outerjoin(PilotProject, PilotProject.activity_id == Activity.id)
        .order_by(Activity.id, PilotProject.id)
    )


def _facts_of(
    activity: Activity, rows: Sequence[Row[Any]], closing: tuple[int, date] | None
) -> tuple[ActivityFacts, date | None]:
    """The guard facts and the target meeting's document deadline from the activity's fact rows."""
    first = rows[0]
    facts = ActivityFacts(
        conventions=tuple(activity.convention_codes),
        single_convention_reason=activity.single_convention_reason,
        task_team_lead_id=first.task_team_lead_id,
        task_team_ends_on=first.task_team_ends_on,
        pilots=tuple(
            PilotFacts(row.pilot_region, tuple(row.pilot_countries or ()), row.pilot_lessons)
            for row in rows
            if row.pilot_id is not None
        ),
        target_meeting_id=activity.target_meeting_id,
        closing_meeting_id=closing[0] if closing else None,
        closing_meeting_starts_on=closing[1] if closing else None,
        as_of=utcnow().date(),
    )
    deadline = (
        Meeting.deadline_of(first.target_starts_on, first.target_deadline_override)
        if first.target_starts_on is not None
        else None
    )
    return facts, deadline


async def _closing_meetings(
    session: AsyncSession, meeting_ids: Iterable[int | None]
) -> dict[int, tuple[int, date]]:
    wanted = sorted({m for m in meeting_ids if m is not None})
    if not wanted:
        return {}
    rows = await session.execute(select(Meeting.id, Meeting.starts_on).where(Meeting.id.in_(wanted)))
    return {meeting_id: (meeting_id, starts_on) for meeting_id, starts_on in rows}


async def gather_facts(
    session: AsyncSession, activity: Activity, closing_meeting_id: int | None = None
) -> ActivityFacts:
    """The data the stage machine's guards read, as the record stands now (columns only)."""
    rows = (await session.execute(_facts_select(Activity.id).where(Activity.id == activity.id))).all()
    closing = await _closing_meetings(session, [closing_meeting_id])
    return _facts_of(activity, rows, closing.get(closing_meeting_id or 0))[0]


@dataclass(frozen=True)
class MoveContext:
    """An activity as a move reads it: the row (with the relations its answer shows), the facts
    its guards read and its target meeting's document deadline."""

    activity: Activity
    facts: ActivityFacts
    target_meeting_deadline: date | None


async def move_contexts(
    session: AsyncSession, wanted: Sequence[tuple[int, int | None]]
) -> dict[tuple[int, int | None], MoveContext]:
    """Each (activity id, closing meeting id) a move names, read for it: one statement for all
    the activities and their facts (and their relations' selectin loads), one more for the named
    closing meetings; an activity that does not exist is left out."""
    ids = sorted({activity_id for activity_id, _ in wanted})
    rows = (
        await session.execute(
            _facts_select(Activity).where(Activity.id.in_(ids)).execution_options(populate_existing=True)
        )
    ).all()
    closing = await _closing_meetings(session, (meeting_id for _, meeting_id in wanted))
    by_activity: dict[int, list[Row[Any]]] = {}
    for row in rows:
        by_activity.setdefault(row.Activity.id, []).append(row)
    contexts = {}
    for activity_id, meeting_id in wanted:
        group = by_activity.get(activity_id)
        if group is None:
            continue
        activity = group[0].Activity
        facts, deadline = _facts_of(activity, group, closing.get(meeting_id or 0))
        contexts[(activity_id, meeting_id)] = MoveContext(activity, facts, deadline)
    return contexts


async def load_activity(session: AsyncSession, activity_id: int) -> Activity:
    activity = await session.get(Activity, activity_id, populate_existing=True)
    if activity is None:
        raise NotFound(f"activity {activity_id} does not exist")
    return activity


async def transitions_of(session: AsyncSession, activity_id: int) -> list[Transition]:
    return list(
        await session.scalars(
            select(Transition).where(Transition.activity_id == activity_id).order_by(Transition.seq)
        )
    )


async def activities_targeting(session: AsyncSession, meeting_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(Activity.id).where(
                Activity.target_meeting_id == meeting_id, Activity.stage == Stage.REPORT_TO_COP.value
            )
        )
    )


@dataclass(frozen=True)
class ActivityDraft:
    title: str
    description: str
    provisions: list[str]
    conventions: list[str] | None
    thematic_group_id: int | None
    lead_id: int | None
    task_team_id: int | None
    target_meeting_id: int | None
    single_convention_reason: str | None
    watcher_ids: list[int]
    stage_due_on: date | None


async def check_references(session: AsyncSession, fields: dict[str, Any]) -> None:
    """422 naming the field for any id that points nowhere, before the workflow sees the change."""
    if fields.get("thematic_group_id") is not None:
        body = await session.get(Body, fields["thematic_group_id"])
        if body is None or body.kind != BodyKind.THEMATIC_GROUP:
            raise InvalidInput(
                f"thematic_group_id: {fields['thematic_group_id']} is not a thematic group",
                field="thematic_group_id",
            )
    for name, model, label in (
        ("lead_id", Person, "person"),
        ("task_team_id", TaskTeam, "task team"),
        ("target_meeting_id", Meeting, "meeting"),
    ):
        await require_reference(session, model, fields.get(name), field=name, label=label)


async def relation_changes(session: AsyncSession, fields: dict[str, Any]) -> dict[str, Any]:
    """Relation lists as the edit activity expects them, every code and id checked."""
    changes: dict[str, Any] = {}
    if fields.get("provisions") is not None:
        provisions = await load_by_keys(
            session, Provision.element_code, fields["provisions"], field="provisions", label="provision"
        )
        changes["provision_codes"] = [p.element_code for p in provisions]
    if fields.get("conventions") is not None:
        conventions = await load_by_keys(
            session, Convention.code, fields["conventions"], field="conventions", label="convention"
        )
        changes["convention_codes"] = [c.code for c in conventions]
    if fields.get("watcher_ids") is not None:
        watchers = await load_by_keys(
            session, Person.id, fields["watcher_ids"], field="watcher_ids", label="person"
        )
        changes["watcher_ids"] = [p.id for p in watchers]
    return changes


async def reminders_of(session: AsyncSession, activity_id: int) -> list[ReminderEvent]:
    return list(
        await session.scalars(
            select(ReminderEvent)
            .where(ReminderEvent.activity_id == activity_id)
            .order_by(ReminderEvent.fired_at, ReminderEvent.id)
        )
    )


async def insert_activity(
    session: AsyncSession, settings: Settings, actor_id: int, draft: ActivityDraft
) -> Activity:
    """The activity and its first transition (thematic_group), every reference checked; not
    committed, so the caller decides when it exists."""
    fields = asdict(draft)
    await check_references(session, fields)
    provisions = await load_by_keys(
        session, Provision.element_code, draft.provisions, field="provisions", label="provision"
    )
    codes = draft.conventions or sorted(
        {decision.convention_code for p in provisions for decision in p.decisions}
    )
    conventions = await load_by_keys(session, Convention.code, codes, field="conventions", label="convention")
    watchers = await load_by_keys(session, Person.id, draft.watcher_ids, field="watcher_ids", label="person")
    now = utcnow()
    activity = Activity(
        title=draft.title,
        description=draft.description,
        stage=Stage.THEMATIC_GROUP,
        stage_entered_at=now,
        thematic_group_id=draft.thematic_group_id,
        lead_id=draft.lead_id,
        task_team_id=draft.task_team_id,
        target_meeting_id=draft.target_meeting_id,
        single_convention_reason=draft.single_convention_reason,
        provisions=provisions,
        conventions=conventions,
        watchers=watchers,
    )
    session.add(activity)
    await session.flush()
    due_on = draft.stage_due_on or due_date_on_entry(Stage.THEMATIC_GROUP, now.date(), None, settings)
    await record_transition(
        session,
        TransitionRecord(
            activity_id=activity.id,
            seq=1,
            from_stage=None,
            to_stage=Stage.THEMATIC_GROUP,
            actor_id=actor_id,
            at=now,
            reason="created",
            due_on=due_on,
        ),
    )
    return activity
