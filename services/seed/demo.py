"""The demo loader: demo people and activities with their history, written through `record_transition`
after `check_transition` accepted each move, so the demo never shows a move the API would refuse."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings, get_settings
from core.stages import ActivityFacts, PilotFacts, Stage, TransitionError, check_transition
from models.activity import ActionEntry, Activity, PilotProject
from models.people import Body, Person, TaskTeam
from models.reference import Convention, Meeting, Provision
from services.due_dates import due_date_on_entry
from services.seed.reference import load_reference_data
from services.seed.schema import ActivityData, PersonData, SeedDataError, demo_data, labelled_source
from services.transitions import TransitionRecord, record_transition


@dataclass(frozen=True)
class DemoResult:
    """`activity_ids`: every demo activity in file order (one lifecycle workflow each for the open
    ones); `created_ids`: those this run added; `misdated_ids`: those already present whose
    creation date is not the data's (loaded with shifted dates by an earlier version)."""

    activity_ids: list[int]
    created_ids: list[int]
    misdated_ids: list[int]


@dataclass(frozen=True)
class _Lookup:
    """Rows the demo refers to by natural key; unknown keys fail with the activity named."""

    conventions: dict[str, Convention]
    provisions: dict[str, Provision]
    bodies: dict[str, Body]
    meetings: dict[str, Meeting]
    people: dict[str, Person]

    def get(self, table: str, key: str, activity: str) -> Any:
        rows: dict[str, Any] = getattr(self, table)
        if key not in rows:
            raise SeedDataError(f"demo activity {activity!r}: no {table} row with key {key!r}")
        return rows[key]


async def _ensure_people(
    session: AsyncSession, people: list[PersonData], bodies: dict[str, Body]
) -> dict[str, Person]:
    """Demo people by key; existing people (same email) are reused untouched."""
    by_key: dict[str, Person] = {}
    for p in people:
        person = await session.scalar(select(Person).where(Person.email == p.email))
        if person is None:
            unknown = [code for code in p.bodies if code not in bodies]
            if unknown:
                raise SeedDataError(f"demo person {p.key!r}: unknown bodies {unknown}")
            person = Person(name=p.name, email=p.email, role=p.role, secretariat=p.secretariat)
            session.add(person)
            for code in p.bodies:
                bodies[code].members.append(person)
            await session.flush()
        by_key[p.key] = person
    return by_key


def _moment(day: date, seq: int) -> datetime:
    """Office hours on `day`, a minute per step so same-day moves keep their order in time."""
    return datetime.combine(day, time(9, 0), tzinfo=UTC) + timedelta(minutes=seq)


async def _create_activity(
    session: AsyncSession, item: ActivityData, lookup: _Lookup, settings: Settings
) -> int:
    title = item.title
    label = {
        id(fact): labelled_source(fact, f"demo activity {title!r}, {what}") for what, fact in item.facts()
    }
    people = lookup.people
    group: Body = lookup.get("bodies", item.thematic_group, title)
    target: Meeting | None = (
        lookup.get("meetings", item.target_meeting, title) if item.target_meeting else None
    )
    provisions = {code: lookup.get("provisions", code, title) for code in item.provisions}

    task_team: TaskTeam | None = None
    if item.task_team is not None:
        task_team = TaskTeam(
            name=item.task_team.name,
            thematic_group_id=group.id,
            lead_id=people[item.task_team.lead].id,
            starts_on=item.task_team.starts_on,
            ends_on=item.task_team.ends_on,
            members=[people[key] for key in item.task_team.members],
        )
        session.add(task_team)
        await session.flush()

    created_at = _moment(item.created_on, 1)
    activity = Activity(
        title=title,
        description=item.description,
        thematic_group_id=group.id,
        task_team_id=task_team.id if task_team else None,
        lead_id=people[item.lead].id,
        target_meeting_id=target.id if target else None,
        single_convention_reason=item.single_convention_reason,
        source=label[id(item)],
        provisions=sorted(provisions.values(), key=lambda p: p.sort_key),
        conventions=[lookup.get("conventions", code, title) for code in sorted(item.conventions)],
        created_at=created_at,
        updated_at=created_at,
        stage_entered_at=created_at,
    )
    session.add(activity)
    await session.flush()

    for pilot in item.pilots:
        session.add(
            PilotProject(
                activity_id=activity.id,
                title=pilot.title,
                region=pilot.region,
                countries=list(pilot.countries),
                partners=list(pilot.partners),
                starts_on=pilot.starts_on,
                ends_on=pilot.ends_on,
                lessons_learned=pilot.lessons_learned,
                source=label[id(pilot)],
            )
        )
    for action in item.actions:
        session.add(
            ActionEntry(
                activity_id=activity.id,
                provision_id=provisions[action.provision or item.provisions[0]].id,
                kind=action.kind,
                on_date=action.on_date,
                text=action.text,
                author_id=people[action.author or item.lead].id,
                source=label[id(action)],
            )
        )
    await session.flush()

    facts = ActivityFacts(
        conventions=tuple(item.conventions),
        single_convention_reason=item.single_convention_reason,
        task_team_lead_id=task_team.lead_id if task_team else None,
        task_team_ends_on=task_team.ends_on if task_team else None,
        pilots=tuple(PilotFacts(p.region, tuple(p.countries), p.lessons_learned) for p in item.pilots),
        target_meeting_id=target.id if target else None,
    )
    actor = people[item.coordinator]
    previous: Stage | None = None
    for seq, move in enumerate(item.history, start=1):
        meeting: Meeting | None = lookup.get("meetings", move.meeting, title) if move.meeting else None
        if previous is not None:
            try:
                check_transition(
                    previous,
                    move.to,
                    role=actor.role,
                    reason=move.reason,
                    facts=replace(facts, closing_meeting_id=meeting.id if meeting else None),
                )
            except TransitionError as error:
                raise SeedDataError(
                    f"demo activity {title!r}, history entry {seq} ({previous} → {move.to}): {error.message}"
                ) from error
        if move.to is Stage.REPORT_TO_COP:
            meeting = target
        entered_on = move.on_date
        transition, _ = await record_transition(
            session,
            TransitionRecord(
                activity_id=activity.id,
                seq=seq,
                from_stage=previous,
                to_stage=move.to,
                actor_id=actor.id,
                at=_moment(entered_on, seq),
                reason=move.reason,
                meeting_id=meeting.id if meeting else None,
                due_on=due_date_on_entry(move.to, entered_on, target, settings),
            ),
        )
        transition.source = label[id(move)]
        previous = move.to
    return activity.id


async def load_demo_data(session: AsyncSession, *, settings: Settings | None = None) -> DemoResult:
    """Load the reference data and the demo activities with their history, at their real dates.
    Idempotent by activity title: a demo activity already present is left as it is."""
    data = demo_data()
    settings = settings or get_settings()
    titles = [item.title for item in data.activities]
    rows = await session.execute(
        select(Activity.title, Activity.id, Activity.created_at).where(Activity.title.in_(titles))
    )
    existing: dict[str, int] = {}
    created_on: dict[str, date] = {}
    for title, activity_id, created_at in rows.all():
        existing[title], created_on[title] = activity_id, created_at.date()
    await load_reference_data(session)

    bodies = {body.code: body for body in await session.scalars(select(Body))}
    lookup = _Lookup(
        conventions={c.code: c for c in await session.scalars(select(Convention))},
        provisions={p.element_code: p for p in await session.scalars(select(Provision))},
        bodies=bodies,
        meetings={m.code: m for m in await session.scalars(select(Meeting))},
        people=await _ensure_people(session, data.people, bodies),
    )
    activity_ids: list[int] = []
    created_ids: list[int] = []
    misdated_ids: list[int] = []
    for item in data.activities:
        if item.title in existing:
            activity_ids.append(existing[item.title])
            if created_on[item.title] != item.created_on:
                misdated_ids.append(existing[item.title])
            continue
        activity_id = await _create_activity(session, item, lookup, settings)
        activity_ids.append(activity_id)
        created_ids.append(activity_id)
    return DemoResult(activity_ids=activity_ids, created_ids=created_ids, misdated_ids=misdated_ids)


MISDATED_HINT = (
    "{count} demo activities were loaded at shifted dates by an earlier version; dates are facts now: "
    "start from an empty database (e.g. delete var/) to load them at their real dates."
)
