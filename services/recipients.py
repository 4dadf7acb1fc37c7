"""Who hears of an event, and by which channels.

The audiences of the event (coordinators = active people with the coordinator role, narrowed to
their conventions when they have any; the joint management group's members; the activity's lead;
its watchers) plus every active subscription matching the event. An audience member without a
matching subscription gets e-mail + feed; a subscriber gets the feed entry plus the channels of
their matching subscriptions. The group addresses (settings.coordinators_group_email,
settings.management_group_email) get one e-mail per event. Nobody is mailed about their own change
unless they asked (`notify_own_changes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.events import Audience, NotificationEvent
from core.settings import Settings
from models import (
    Body,
    BodyKind,
    Channel,
    Person,
    Role,
    Subscription,
    activity_watchers,
    body_members,
    person_conventions,
)
from services.notification_messages import EventActivity, Why, event_activity

# When someone is addressed for several reasons, the footer and the request name the strongest.
WHY_RANK = {Why.LEAD: 0, Why.MANAGEMENT: 1, Why.COORDINATOR: 2, Why.WATCHER: 3, Why.SUBSCRIBER: 4}

ChannelTarget = tuple[Channel, str]
"""Where one delivery goes: (channel, e-mail address or webhook URL)."""


@dataclass
class EventRecipient:
    """A person who hears of an event: why (the strongest reason), the conventions they work on
    (named in the footer), and their channels, each with the subscription that asked for it (None:
    the default e-mail of an audience member)."""

    person: Person
    why: Why
    conventions: tuple[str, ...] = ()
    channels: dict[ChannelTarget, int | None] = field(default_factory=dict)


GroupAddress = tuple[Audience, str]
"""A group's shared mailbox: the audience it stands for and its address."""


def matching_subscriptions(event: NotificationEvent, conventions: list[str]) -> Select[Subscription, Person]:
    """Active subscriptions of active people whose filters (event type, convention, thematic
    group, stage) all admit the event."""
    return (
        select(Subscription, Person)
        .join(Person, Person.id == Subscription.person_id)
        .where(
            Subscription.active.is_(True),
            Person.active.is_(True),
            Subscription.event_type.in_(["*", event.type.value]),
            or_(
                Subscription.convention_code.is_(None),
                Subscription.convention_code.in_(conventions),
            ),
            or_(
                Subscription.thematic_group_id.is_(None),
                Subscription.thematic_group_id == event.thematic_group_id,
            ),
            or_(Subscription.stage.is_(None), Subscription.stage == event.stage),
        )
        .order_by(Subscription.id)
    )


class _Audiences:
    """The audience members of one event, each kept once with the strongest reason."""

    def __init__(self) -> None:
        self.members: dict[int, EventRecipient] = {}
        self.groups: list[GroupAddress] = []

    def add(self, person: Person, why: Why, conventions: tuple[str, ...] = ()) -> None:
        current = self.members.get(person.id)
        if current is None or WHY_RANK[why] < WHY_RANK[current.why]:
            self.members[person.id] = EventRecipient(person, why, conventions)


def _audience_people(audiences: list[Audience], activity_id: int | None) -> Select[Any] | None:
    """The active people of the coordinators, management and watchers audiences in one query:
    (person, audience, a convention the person works on or None), a coordinator once per
    convention."""
    columns = list(Person.__table__.c)
    parts: list[Select[Any]] = []
    if Audience.COORDINATORS in audiences:
        parts.append(
            select(
                *columns,
                literal(Audience.COORDINATORS.value).label("audience"),
                person_conventions.c.convention_code,
            )
            .outerjoin(person_conventions, person_conventions.c.person_id == Person.id)
            .where(Person.role == Role.COORDINATOR, Person.active.is_(True))
        )
    if Audience.MANAGEMENT in audiences:
        parts.append(
            select(
                *columns,
                literal(Audience.MANAGEMENT.value).label("audience"),
                null().label("convention_code"),
            )
            .join(body_members, body_members.c.person_id == Person.id)
            .join(Body, Body.id == body_members.c.body_id)
            .where(Body.kind == BodyKind.JOINT_MANAGEMENT_GROUP, Person.active.is_(True))
        )
    if Audience.WATCHERS in audiences and activity_id is not None:
        parts.append(
            select(
                *columns, literal(Audience.WATCHERS.value).label("audience"), null().label("convention_code")
            )
            .join(activity_watchers, activity_watchers.c.person_id == Person.id)
            .where(activity_watchers.c.activity_id == activity_id, Person.active.is_(True))
        )
    if not parts:
        return None
    rows = union_all(*parts).subquery()
    person = aliased(Person, rows)
    return select(person, rows.c.audience, rows.c.convention_code).order_by(rows.c.id, rows.c.convention_code)


async def _audiences_of(
    session: AsyncSession,
    settings: Settings,
    event: NotificationEvent,
    subject: EventActivity | None,
    conventions: list[str],
) -> _Audiences:
    """Each audience's members, in the event's order of audiences, by person id."""
    wanted = list(dict.fromkeys(event.audiences))
    found: dict[Audience, dict[int, tuple[Person, tuple[str, ...]]]] = {audience: {} for audience in wanted}
    statement = _audience_people(wanted, subject.activity.id if subject is not None else None)
    for person, audience, code in await session.execute(statement) if statement is not None else ():
        members = found[Audience(audience)]
        _, codes = members.get(person.id, (person, ()))
        members[person.id] = (person, (*codes, code) if code else codes)
    audiences = _Audiences()
    for audience in wanted:
        if audience is Audience.COORDINATORS:
            for person, codes in found[audience].values():
                if codes and conventions and not set(codes) & set(conventions):
                    continue  # a coordinator for other conventions
                audiences.add(person, Why.COORDINATOR, codes)
            if settings.coordinators_group_email:
                audiences.groups.append((audience, settings.coordinators_group_email))
        elif audience is Audience.MANAGEMENT:
            for person, _ in found[audience].values():
                audiences.add(person, Why.MANAGEMENT)
            if settings.management_group_email:
                audiences.groups.append((audience, settings.management_group_email))
        elif audience is Audience.LEAD and subject is not None:
            if subject.lead is not None and subject.lead.active:
                audiences.add(subject.lead, Why.LEAD)
        elif audience is Audience.WATCHERS:
            for person, _ in found[audience].values():
                audiences.add(person, Why.WATCHER)
    return audiences


async def recipients_of(
    session: AsyncSession, settings: Settings, event: NotificationEvent, subject: EventActivity | None = None
) -> tuple[dict[int, EventRecipient], list[GroupAddress]]:
    """Every person who hears of `event` (by person id) with their channels, and the group
    addresses to mail. Subscribers get their subscriptions' channels; audience members without a
    matching subscription get e-mail (the feed entry is everyone's). `subject`: the event's
    activity if already read (`event_activity`)."""
    subject = subject or await event_activity(session, event)
    conventions: list[str] = list(event.conventions)
    if subject is not None and not conventions:
        conventions = subject.activity.convention_codes
    audiences = await _audiences_of(session, settings, event, subject, conventions)

    recipients: dict[int, EventRecipient] = {}
    for subscription, person in await session.execute(matching_subscriptions(event, conventions)):
        member = audiences.members.get(person.id)
        recipient = recipients.setdefault(
            person.id,
            EventRecipient(
                person, member.why if member else Why.SUBSCRIBER, member.conventions if member else ()
            ),
        )
        if subscription.channel is Channel.WEBHOOK:
            if subscription.webhook_url:
                recipient.channels.setdefault((Channel.WEBHOOK, subscription.webhook_url), subscription.id)
        elif subscription.channel is Channel.EMAIL:
            recipient.channels.setdefault((Channel.EMAIL, person.email), subscription.id)
        # FEED: every recipient gets the feed entry anyway

    for person_id, member in audiences.members.items():
        if person_id not in recipients:  # no matching subscription: the default channels
            member.channels[(Channel.EMAIL, member.person.email)] = None
            recipients[person_id] = member
    return recipients, audiences.groups


def drop_own_email(recipients: dict[int, EventRecipient], actor_id: int | None) -> None:
    """The person who made the change is not mailed about it unless they asked
    (`notify_own_changes`); their feed entry and webhooks stay."""
    recipient = recipients.get(actor_id) if actor_id is not None else None
    if recipient is None or recipient.person.notify_own_changes:
        return
    recipient.channels = {
        target: sub for target, sub in recipient.channels.items() if target[0] is not Channel.EMAIL
    }
