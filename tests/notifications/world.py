"""The people, bodies and activity a notification event concerns (the notification tests' `world`),
and subscriptions to events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONVENTIONS = ("basel", "rotterdam", "stockholm", "minamata")


@dataclass
class World:
    """Coordinator (coordinators group), admin (joint management group), task team lead (the
    activity's lead), oversight (a watcher), plus named extra persons; one thematic group."""

    activity_id: int
    thematic_group_id: int
    other_group_id: int
    persons: dict[str, Any]

    def event(self, key: str = "activity-1/ev-1", **fields: Any) -> Any:
        from core.events import Audience, EventType, NotificationEvent

        values: dict[str, Any] = {
            "key": key,
            "type": EventType.TRANSITION,
            "title": "Moved to task team",
            "body": "The activity moved from thematic group to task team.",
            "activity_id": self.activity_id,
            "stage": "task_team",
            "conventions": ("basel", "stockholm"),
            "thematic_group_id": self.thematic_group_id,
            "audiences": (Audience.COORDINATORS, Audience.LEAD, Audience.WATCHERS),
            "link": "http://testserver/activities/1",
            "from_stage": "thematic_group",
            "to_stage": "task_team",
        }
        values.update(fields)
        return NotificationEvent(**values)


async def build_world(
    sessionmaker: Any, people: Any, extra: dict[str, dict[str, Any]] | None = None
) -> World:
    from models import Activity, Body, BodyKind, Convention, Person, Role

    async with sessionmaker() as session, session.begin():
        for code in CONVENTIONS:
            session.add(
                Convention(
                    code=code,
                    acronym=code[:2].upper(),
                    name=f"{code.title()} Convention",
                    short_name=code.title(),
                )
            )
        persons: dict[str, Any] = {role.value: await session.get(Person, people[role].id) for role in Role}
        for name, fields in (extra or {}).items():
            person = Person(name=name, email=f"{name}@example.org", role=Role.OVERSIGHT, **fields)
            session.add(person)
            persons[name] = person
        await session.flush()
        coordinators = Body(code="cg", kind=BodyKind.COORDINATORS_GROUP, name="Coordinators group")
        coordinators.members = [persons["coordinator"]]
        management = Body(code="jmg", kind=BodyKind.JOINT_MANAGEMENT_GROUP, name="Joint management group")
        management.members = [persons["admin"]]
        group = Body(code="tg-tech", kind=BodyKind.THEMATIC_GROUP, name="Technical assistance")
        other = Body(code="tg-clearing", kind=BodyKind.THEMATIC_GROUP, name="Clearing-house")
        session.add_all([coordinators, management, group, other])
        await session.flush()
        activity = Activity(
            title="Joint e-waste workshop",
            lead_id=persons["task_team_lead"].id,
            thematic_group_id=group.id,
        )
        activity.conventions = [
            await session.get_one(Convention, "basel"),
            await session.get_one(Convention, "stockholm"),
        ]
        activity.watchers = [persons["oversight"]] + [
            person for name, person in persons.items() if name.startswith("watcher")
        ]
        session.add(activity)
        await session.flush()
        return World(activity.id, group.id, other.id, persons)


async def add_subscription(sessionmaker: Any, person: Any, **fields: Any) -> int:
    from models import Subscription

    async with sessionmaker() as session, session.begin():
        subscription = Subscription(person_id=person.id, **fields)
        session.add(subscription)
        await session.flush()
        return int(subscription.id)
