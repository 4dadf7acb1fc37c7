"""The queries behind the web app's board, activity page and 'my work': open activities by stage
with the filters a coordinator uses, and everything about one activity in a few round trips."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.stages import OPEN_STAGES, Stage
from models import (
    Activity,
    ActivityEdit,
    Body,
    BodyKind,
    Convention,
    Meeting,
    Person,
    ReminderEvent,
    TaskTeam,
    Transition,
    activity_watchers,
)
from services.activities import SORTING, ActivityFilters, activity_query, today
from services.pagination import PageParams, paginate

COLUMN_LIMIT = 50
LIST_PAGE = 100
DUE_SOON_DAYS = 14
DUE_CHOICES = ("overdue", "soon")


@dataclass(frozen=True)
class BoardFilter:
    """The board's filter, as it appears in the URL (a saved view is a bookmark)."""

    convention: str = ""
    thematic_group: int | None = None
    lead: int | None = None
    meeting: int | None = None
    due: str = ""  # "overdue" or "soon" (within DUE_SOON_DAYS)
    q: str = ""

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in ("", None) for f in fields(self))

    def query_items(self) -> list[tuple[str, Any]]:
        return [
            (f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) not in ("", None)
        ]


def board_statement(board: BoardFilter) -> Any:
    """Open activities matching the board's filter (every column, the list of one)."""
    statement = activity_query(
        ActivityFilters(
            stage=list(OPEN_STAGES),
            convention=board.convention or None,
            thematic_group=board.thematic_group,
            lead=board.lead,
            q=board.q or None,
        )
    )
    if board.meeting is not None:
        statement = statement.where(Activity.target_meeting_id == board.meeting)
    now = today()
    if board.due == "overdue":
        statement = statement.where(Activity.stage_due_on < now)
    elif board.due == "soon":
        statement = statement.where(
            Activity.stage_due_on >= now, Activity.stage_due_on <= now + timedelta(days=DUE_SOON_DAYS)
        )
    return statement


@dataclass
class Column:
    stage: Stage
    count: int
    cards: list[Activity] = field(default_factory=list)


async def board_columns(session: AsyncSession, board: BoardFilter) -> list[Column]:
    """One column per open stage: the total matching, and the first cards by due date."""
    statement = board_statement(board)
    counted = statement.with_only_columns(Activity.stage, func.count(Activity.id)).group_by(Activity.stage)
    counts = {Stage(stage): count for stage, count in (await session.execute(counted)).all()}
    columns = []
    for stage in OPEN_STAGES:
        cards = (
            list(
                await session.scalars(
                    statement.where(Activity.stage == stage.value)
                    .options(selectinload(Activity.lead), selectinload(Activity.target_meeting))
                    .order_by(Activity.stage_due_on.is_(None), Activity.stage_due_on, Activity.id)
                    .limit(COLUMN_LIMIT)
                )
            )
            if counts.get(stage)
            else []
        )
        columns.append(Column(stage, counts.get(stage, 0), cards))
    return columns


@dataclass
class Choices:
    """What the filter and edit forms offer."""

    conventions: list[Convention]
    thematic_groups: list[Body]
    leads: list[Person]
    meetings: list[Meeting]
    task_teams: list[TaskTeam]


async def choices(session: AsyncSession) -> Choices:
    return Choices(
        conventions=list(await session.scalars(select(Convention).order_by(Convention.code))),
        thematic_groups=list(
            await session.scalars(
                select(Body).where(Body.kind == BodyKind.THEMATIC_GROUP).order_by(Body.name)
            )
        ),
        leads=list(await session.scalars(select(Person).where(Person.active).order_by(Person.name))),
        meetings=list(await session.scalars(select(Meeting).order_by(Meeting.starts_on))),
        task_teams=list(await session.scalars(select(TaskTeam).order_by(TaskTeam.name))),
    )


async def activity_page(session: AsyncSession, activity_id: int) -> Activity | None:
    """The activity with everything the activity page shows, loaded up front."""
    return await session.scalar(
        select(Activity)
        .where(Activity.id == activity_id)
        .options(
            selectinload(Activity.lead),
            selectinload(Activity.thematic_group),
            selectinload(Activity.task_team),
            selectinload(Activity.target_meeting),
            selectinload(Activity.pilot_projects),
            selectinload(Activity.actions),
        )
        .execution_options(populate_existing=True)
    )


async def people_named(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict((await session.execute(select(Person.id, Person.name).where(Person.id.in_(wanted)))).all())


async def my_activities(session: AsyncSession, person_id: int) -> list[Activity]:
    """Open activities I lead (directly or as the task team's lead) or watch, soonest due first."""
    watched = select(activity_watchers.c.activity_id).where(activity_watchers.c.person_id == person_id)
    led_teams = select(TaskTeam.id).where(TaskTeam.lead_id == person_id)
    return list(
        await session.scalars(
            select(Activity)
            .where(
                Activity.stage.in_([s.value for s in OPEN_STAGES]),
                or_(
                    Activity.lead_id == person_id,
                    Activity.task_team_id.in_(led_teams),
                    Activity.id.in_(watched),
                ),
            )
            .options(selectinload(Activity.target_meeting))
            .order_by(Activity.stage_due_on.is_(None), Activity.stage_due_on, Activity.id)
            .limit(200)
        )
    )


async def open_reminders(session: AsyncSession, activity_ids: list[int]) -> dict[int, ReminderEvent]:
    """The latest unacknowledged reminder of each activity."""
    if not activity_ids:
        return {}
    rows = await session.scalars(
        select(ReminderEvent)
        .where(ReminderEvent.activity_id.in_(activity_ids), ReminderEvent.acknowledged_at.is_(None))
        .order_by(ReminderEvent.fired_at, ReminderEvent.id)
    )
    return {row.activity_id: row for row in rows}


def due_state(due_on: date | None, stage: Stage) -> str:
    """'overdue', 'soon' or '' for a card's due-date badge."""
    if due_on is None or not stage.is_open:
        return ""
    if due_on < today():
        return "overdue"
    return "soon" if due_on <= today() + timedelta(days=DUE_SOON_DAYS) else ""


FIELD_LABELS = {
    "title": "title",
    "description": "description",
    "lead_id": "lead",
    "thematic_group_id": "thematic group",
    "task_team_id": "task team",
    "target_meeting_id": "target meeting",
    "single_convention_reason": "reason for involving one convention",
    "stage_due_on": "due date",
    "provision_codes": "provisions",
    "convention_codes": "conventions",
    "watcher_ids": "watchers",
}


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor_id: int | None
    transition: Transition | None = None
    edits: tuple[tuple[str, str, str], ...] = ()  # (field label, old, new) in words


async def history(
    session: AsyncSession, activity_id: int, transitions: list[Transition]
) -> list[HistoryEntry]:
    """Transitions and field edits, newest first, with ids turned into names and dates into words."""
    edits = list(await session.scalars(select(ActivityEdit).where(ActivityEdit.activity_id == activity_id)))
    ids: dict[str, set[int]] = {"people": set(), "teams": set(), "meetings": set(), "bodies": set()}
    kinds = {"lead_id": "people", "watcher_ids": "people", "task_team_id": "teams"}
    kinds |= {"target_meeting_id": "meetings", "thematic_group_id": "bodies"}
    for edit in edits:
        for name, pair in edit.changes.items():
            if name in kinds:
                for value in pair:
                    ids[kinds[name]].update(value if isinstance(value, list) else [value] if value else [])
    names: dict[str, dict[int, str]] = {
        "people": await people_named(session, set(ids["people"])),
        "teams": await _named(session, TaskTeam.id, TaskTeam.name, ids["teams"]),
        "meetings": await _named(session, Meeting.id, Meeting.code, ids["meetings"]),
        "bodies": await _named(session, Body.id, Body.name, ids["bodies"]),
    }

    def words(name: str, value: Any) -> str:
        if value in (None, "", []):
            return "none"
        if name in kinds:
            lookup = names[kinds[name]]
            values = value if isinstance(value, list) else [value]
            return ", ".join(lookup.get(item, f"#{item}") for item in values)
        if name == "stage_due_on":
            day = date.fromisoformat(value)
            return f"{day.day} {day:%B %Y}"
        if name == "description":
            return "…"
        return ", ".join(value) if isinstance(value, list) else str(value)

    entries = [HistoryEntry(t.at, t.actor_id, transition=t) for t in transitions]
    entries += [
        HistoryEntry(
            edit.at,
            edit.actor_id,
            edits=tuple(
                (FIELD_LABELS.get(name, name), words(name, old), words(name, new))
                for name, (old, new) in edit.changes.items()
            ),
        )
        for edit in edits
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


async def _named(session: AsyncSession, key: Any, label: Any, wanted: set[int]) -> dict[int, str]:
    if not wanted:
        return {}
    return dict((await session.execute(select(key, label).where(key.in_(wanted)))).all())  # type: ignore[arg-type]


async def stage_list(
    session: AsyncSession, board: BoardFilter, stage: Stage, cursor: str | None
) -> tuple[list[Activity], str | None]:
    """One page (by due date) of the open activities of one stage that match the filter."""
    statement = (
        board_statement(board)
        .where(Activity.stage == stage.value)
        .options(selectinload(Activity.lead), selectinload(Activity.target_meeting))
    )
    return await paginate(session, statement, SORTING, PageParams("stage_due_on", cursor, LIST_PAGE))
