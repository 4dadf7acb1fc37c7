"""Who hears of what: a matrix of event x role x convention -> recipients, and one's own changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from core.events import Audience, EventType, NotificationEvent
from core.settings import Settings
from models import (
    Activity,
    Body,
    BodyKind,
    Channel,
    Convention,
    Delivery,
    Notification,
    Person,
    Role,
    Stage,
    Transition,
    person_conventions,
)
from workflows.notifications import NotificationActivities

# name -> (role, conventions they work on, on the joint management group, active)
PEOPLE = {
    "coord-all": (Role.COORDINATOR, (), False, True),
    "coord-basel": (Role.COORDINATOR, ("basel",), False, True),
    "coord-minamata": (Role.COORDINATOR, ("minamata",), False, True),
    "coord-gone": (Role.COORDINATOR, (), False, False),
    "lead": (Role.TASK_TEAM_LEAD, (), False, True),
    "watcher": (Role.OVERSIGHT, (), False, True),
    "jmg-admin": (Role.ADMIN, (), True, True),
    "admin": (Role.ADMIN, (), False, True),
    "oversight": (Role.OVERSIGHT, (), False, True),
}
CG, JMG = "coordinators@brs.example.org", "jmg@brs.example.org"


@dataclass
class Place:
    persons: dict[str, Person]
    activities: dict[str, int]  # conventions key -> activity id

    def by_email(self) -> dict[str, str]:
        return {person.email: name for name, person in self.persons.items()}

    def email_of(self, person_id: int | None) -> str:
        return next(person.email for person in self.persons.values() if person.id == person_id)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The group addresses the expected recipients below name."""
    settings.coordinators_group_email, settings.management_group_email = CG, JMG
    return settings


@pytest.fixture
async def place(db) -> Place:  # type: ignore[no-untyped-def]
    async with db() as session, session.begin():
        conventions = {}
        for code in ("basel", "rotterdam", "stockholm", "minamata"):
            conventions[code] = Convention(
                code=code, acronym=code[:3].upper(), name=code, short_name=code.title()
            )
            session.add(conventions[code])
        persons = {}
        for name, (role, _, _, active) in PEOPLE.items():
            persons[name] = Person(name=name, email=f"{name}@example.org", role=role, active=active)
            session.add(persons[name])
        await session.flush()
        for name, (_, codes, _, _) in PEOPLE.items():
            for code in codes:
                await session.execute(
                    person_conventions.insert().values(person_id=persons[name].id, convention_code=code)
                )
        management = Body(code="jmg", kind=BodyKind.JOINT_MANAGEMENT_GROUP, name="Joint management group")
        management.members = [persons[name] for name, spec in PEOPLE.items() if spec[2]]
        session.add(management)
        activities = {}
        for key, codes in {"bs": ("basel", "stockholm"), "mi": ("minamata",)}.items():
            activity = Activity(title=f"Activity {key}", lead_id=persons["lead"].id, stage=Stage.TASK_TEAM)
            activity.conventions = [conventions[code] for code in codes]
            activity.watchers = [persons["watcher"]]
            session.add(activity)
            await session.flush()
            activities[key] = activity.id
        return Place(persons, activities)


EVENTS = {
    "move": (EventType.TRANSITION, (Audience.COORDINATORS, Audience.LEAD, Audience.WATCHERS), "t2"),
    "edit": (EventType.DUE_DATE_CHANGED, (Audience.LEAD, Audience.WATCHERS), "d3"),
    "reminder": (EventType.REMINDER, (Audience.LEAD,), "s2/2027-01-01/before-14"),
    "overdue": (EventType.ESCALATION, (Audience.COORDINATORS, Audience.LEAD), "s2/2027-01-01/escalation+7"),
    "management": (
        EventType.ESCALATION,
        (Audience.COORDINATORS, Audience.LEAD, Audience.MANAGEMENT),
        "s2/2027-01-01/management+30",
    ),
}

MATRIX = [
    # event, activity's conventions, who is mailed (names and group addresses)
    ("move", "bs", {"coord-all", "coord-basel", "lead", "watcher", CG}),
    ("move", "mi", {"coord-all", "coord-minamata", "lead", "watcher", CG}),
    ("edit", "bs", {"lead", "watcher"}),
    ("reminder", "bs", {"lead"}),
    ("overdue", "bs", {"coord-all", "coord-basel", "lead", CG}),
    ("overdue", "mi", {"coord-all", "coord-minamata", "lead", CG}),
    ("management", "bs", {"coord-all", "coord-basel", "lead", "jmg-admin", CG, JMG}),
]


def event_for(place: Place, kind: str, activity: str, **fields: object) -> NotificationEvent:
    type_, audiences, key = EVENTS[kind]
    values: dict[str, object] = {
        "key": f"activity-{place.activities[activity]}/{key}",
        "type": type_,
        "title": "from the workflow",
        "body": "",
        "activity_id": place.activities[activity],
        "stage": "task_team",
        "audiences": audiences,
        "to_stage": "task_team",
    }
    values.update(fields)
    return NotificationEvent(**values)  # type: ignore[arg-type]


async def mailed(db) -> set[str]:  # type: ignore[no-untyped-def]
    async with db() as session:
        return set(await session.scalars(select(Delivery.target).where(Delivery.channel == Channel.EMAIL)))


@pytest.mark.parametrize("kind, activity, expected", MATRIX)
async def test_recipients_by_event_role_and_convention(
    db, place: Place, acts: NotificationActivities, kind: str, activity: str, expected: set[str]
) -> None:
    await ActivityEnvironment().run(acts.plan_deliveries, event_for(place, kind, activity))
    names = place.by_email()
    assert {names.get(target, target) for target in await mailed(db)} == expected
    async with db() as session:  # every person mailed also has the feed entry, titled like the mail
        entries = list(await session.scalars(select(Notification).where(Notification.person_id.is_not(None))))
    assert {names[place.email_of(e.person_id)] for e in entries} == expected - {CG, JMG}


async def test_each_recipient_is_told_why_and_asked_what_fits_them(
    db, place: Place, acts: NotificationActivities
) -> None:
    await ActivityEnvironment().run(acts.plan_deliveries, event_for(place, "management", "bs"))
    async with db() as session:
        entries = list(await session.scalars(select(Notification)))
    why = {
        (place.email_of(e.person_id) if e.person_id else e.key.rsplit("/", 1)[1]): e.payload["recipient"][
            "why"
        ]
        for e in entries
    }
    assert why == {
        "lead@example.org": "lead",
        "jmg-admin@example.org": "management",
        "coord-all@example.org": "coordinator",
        "coord-basel@example.org": "coordinator",
        "coordinators_group": "coordinators_group",
        "joint_management_group": "management_group",
    }
    assert {e.title for e in entries} == {"For the joint management group: Activity bs overdue 30 days"}


async def _record_move(db, place: Place, actor: str) -> None:  # type: ignore[no-untyped-def]
    async with db() as session, session.begin():
        session.add(
            Transition(
                activity_id=place.activities["bs"],
                seq=2,
                from_stage=Stage.THEMATIC_GROUP,
                to_stage=Stage.TASK_TEAM,
                actor_id=place.persons[actor].id,
                at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
                reason="Team set up",
            )
        )


async def test_nobody_is_mailed_about_their_own_move_unless_they_asked(
    db, place: Place, acts: NotificationActivities
) -> None:
    await _record_move(db, place, "coord-basel")  # the event carries no actor: read from the transition
    env = ActivityEnvironment()
    await env.run(acts.plan_deliveries, event_for(place, "move", "bs"))
    assert "coord-basel@example.org" not in await mailed(db)
    async with db() as session:
        entry = await session.scalar(
            select(Notification).where(Notification.person_id == place.persons["coord-basel"].id)
        )
    assert entry is not None  # the feed still shows it
    assert entry.payload["message"]["actor"]["name"] == "coord-basel"
    assert entry.payload["message"]["reason"] == "Team set up"
    assert entry.body.startswith("coord-basel moved it from thematic group to task team on 2 December 2026")

    async with db() as session, session.begin():
        (await session.get_one(Person, place.persons["coord-basel"].id)).notify_own_changes = True
    await env.run(acts.plan_deliveries, event_for(place, "move", "bs", key="again/t2"))
    assert "coord-basel@example.org" in await mailed(db)


async def test_the_events_actor_id_wins_over_the_transition_row(
    db, place: Place, acts: NotificationActivities
) -> None:
    await _record_move(db, place, "coord-basel")
    event = event_for(place, "move", "bs", actor_id=place.persons["coord-all"].id)
    await ActivityEnvironment().run(acts.plan_deliveries, event)
    targets = await mailed(db)
    assert "coord-all@example.org" not in targets and "coord-basel@example.org" in targets
