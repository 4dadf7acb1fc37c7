"""What a notification says, rendered when it is delivered rather than when the workflow raised it.

`build_message` reads the facts of an event from the database (activity title, lead, conventions,
provisions, due date, who moved it and why) into one JSON-safe dict, the *message*: it is stored on
every feed entry, is the `data` of a webhook payload, and fills the Jinja2 templates in
`services/templates/mail/` (one text and one HTML template per kind of message). The subject is also the
feed entry's title, so the inbox and the mailbox say the same thing. The recipient changes only what
they are asked to do and the footer saying why they got the message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, lazyload

from core.events import Audience, EventType, NotificationEvent
from core.settings import Settings
from core.stages import Stage
from models import Activity, Body, Meeting, Person, Transition

MESSAGE_VERSION = 1
"""Version of the message fields (webhook payload `version`); raised on incompatible changes."""

TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"

_REMINDER_LABEL = re.compile(r"/(before|due|snoozed|escalation|management)([+-]\d+)$")
_TRANSITION_KEY = re.compile(r"/t(\d+)$")
_DUE_CHANGE = re.compile(r"from (\S+) to (\S+?)\.?$")


class Kind(StrEnum):
    """What happened, as the templates tell it apart (one template pair per kind)."""

    MOVE = "move"
    EDIT = "edit"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    MANAGEMENT = "management"
    REPORT_READY = "report_ready"


class Why(StrEnum):
    """Why a recipient got a message: the footer, and what they are asked to do."""

    LEAD = "lead"
    WATCHER = "watcher"
    COORDINATOR = "coordinator"
    MANAGEMENT = "management"
    SUBSCRIBER = "subscriber"
    COORDINATORS_GROUP = "coordinators_group"
    MANAGEMENT_GROUP = "management_group"


def stage_name(code: str | None) -> str:
    """The stage's label as it reads inside a sentence ("moved to report to COP")."""
    if code is None:
        return ""
    try:
        label = Stage(code).label
    except ValueError:
        return code.replace("_", " ")
    return label[:1].lower() + label[1:]


def kind_of(event: NotificationEvent) -> Kind:
    if event.type is EventType.TRANSITION:
        return Kind.MOVE
    if event.type is EventType.DUE_DATE_CHANGED:
        return Kind.EDIT
    if event.type is EventType.REPORT_READY:
        return Kind.REPORT_READY
    if event.type is EventType.ESCALATION:
        label = _REMINDER_LABEL.search(event.key)
        management = Audience.MANAGEMENT in event.audiences or (label and label.group(1) == "management")
        return Kind.MANAGEMENT if management else Kind.OVERDUE
    return Kind.REMINDER


def activity_url(settings: Settings, activity_id: int) -> str:
    return f"{settings.public_url.rstrip('/')}/app/activities/{activity_id}"


def absolute(settings: Settings, link: str | None) -> str | None:
    """A link of the API as mail clients need it: absolute, on the public URL."""
    if link is None or "://" in link:
        return link
    return f"{settings.public_url.rstrip('/')}/{link.lstrip('/')}"


def settings_url(settings: Settings) -> str:
    """Where a person changes what they receive (the web app's notification settings)."""
    return f"{settings.public_url.rstrip('/')}/app/settings/notifications"


def long_date(value: str | date | None) -> str:
    if value is None:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day} {day:%B %Y}"


def long_time(value: str | datetime | None) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{long_date(moment.date())}, {moment.astimezone(UTC):%H:%M} UTC"


# --- the facts --------------------------------------------------------------------------------


def _person(person: Person | None) -> dict[str, Any] | None:
    return None if person is None else {"id": person.id, "name": person.name, "email": person.email}


@dataclass(frozen=True)
class EventActivity:
    """The activity an event is about, read once for its message and its recipients: the row
    (conventions and provisions loaded, watchers not: services.recipients reads the active ones),
    its thematic group's name and its lead."""

    activity: Activity
    thematic_group: str | None
    lead: Person | None


async def event_activity(session: AsyncSession, event: NotificationEvent) -> EventActivity | None:
    """The event's activity with its group's name and lead in one query (conventions and
    provisions selectin-loaded); None if the event names none or it is gone."""
    if event.activity_id is None:
        return None
    lead = aliased(Person)
    row = (
        await session.execute(
            select(Activity, Body.name, lead)
            .outerjoin(Body, Body.id == Activity.thematic_group_id)
            .outerjoin(lead, lead.id == Activity.lead_id)
            .options(lazyload(Activity.watchers))
            .where(Activity.id == event.activity_id)
        )
    ).first()
    return None if row is None else EventActivity(*row)


def _activity_facts(settings: Settings, subject: EventActivity) -> dict[str, Any]:
    activity = subject.activity
    return {
        "id": activity.id,
        "title": activity.title,
        "url": activity_url(settings, activity.id),
        "stage": activity.stage.value,
        "stage_name": stage_name(activity.stage.value),
        "due_on": activity.stage_due_on.isoformat() if activity.stage_due_on else None,
        "lead": _person(subject.lead),
        "thematic_group": subject.thematic_group,
        "conventions": [{"code": c.code, "name": c.short_name} for c in activity.conventions],
        "provisions": [{"code": p.element_code, "citation": p.citation} for p in activity.provisions],
    }


async def _event_actor(session: AsyncSession, event: NotificationEvent) -> Person | None:
    return await session.get(Person, event.actor_id) if event.actor_id else None


async def _transition_and_actor(
    session: AsyncSession, event: NotificationEvent
) -> tuple[Transition | None, Person | None]:
    """A move's transition row (by id, else by the `/t{seq}` key) and its actor (the event's, else
    the row's) in one query."""
    actor = aliased(Person)
    if event.transition_id is not None:
        where = Transition.id == event.transition_id
    elif (match := _TRANSITION_KEY.search(event.key)) is not None and event.activity_id is not None:
        where = (Transition.activity_id == event.activity_id) & (Transition.seq == int(match.group(1)))
    else:
        return None, await _event_actor(session, event)
    actor_id = Transition.actor_id if event.actor_id is None else literal(event.actor_id)
    row = (
        await session.execute(select(Transition, actor).outerjoin(actor, actor.id == actor_id).where(where))
    ).first()
    if row is None:
        return None, await _event_actor(session, event)
    return row[0], row[1]


async def build_message(
    session: AsyncSession,
    settings: Settings,
    event: NotificationEvent,
    now: datetime,
    subject: EventActivity | None = None,
) -> dict[str, Any]:
    """The facts of `event` as JSON-safe data (see the module docstring); `subject`: its activity
    if already read (`event_activity`)."""
    kind = kind_of(event)
    subject = subject or await event_activity(session, event)
    facts = _activity_facts(settings, subject) if subject is not None else None
    transition, actor = (
        await _transition_and_actor(session, event)
        if kind is Kind.MOVE
        else (None, await _event_actor(session, event))
    )
    message: dict[str, Any] = {
        "version": MESSAGE_VERSION,
        "type": event.type.value,
        "kind": kind.value,
        "event": event.key,
        "at": now.isoformat(),
        "activity": facts,
        "actor": _person(actor),
        "from_stage": None,
        "to_stage": None,
        "reason": event.reason,
        "due_on": event.due_on.isoformat() if event.due_on else None,
        "previous_due_on": None,
        "days_from_due": None,
        "report": None,
        "link": facts["url"] if facts else absolute(settings, event.link),
    }
    if kind is Kind.MOVE:
        if transition is not None:
            message["at"] = transition.at.isoformat()
            message["reason"] = message["reason"] or transition.reason
            message["due_on"] = transition.due_on.isoformat() if transition.due_on else None
        from_stage = event.from_stage or (transition.from_stage if transition else None)
        to_stage = event.to_stage or (transition.to_stage if transition else event.stage)
        message["from_stage"] = (
            {"code": str(from_stage), "name": stage_name(from_stage)} if from_stage else None
        )
        message["to_stage"] = {"code": str(to_stage), "name": stage_name(to_stage)} if to_stage else None
    elif kind is Kind.EDIT:
        previous = event.data.get("previous_due_on")
        if previous is None and (match := _DUE_CHANGE.search(event.body)):
            previous = match.group(1)
        message["previous_due_on"] = previous if previous and previous != "None" else None
    elif kind in (Kind.REMINDER, Kind.OVERDUE, Kind.MANAGEMENT):
        label = _REMINDER_LABEL.search(event.key)
        if label is not None:
            message["days_from_due"] = int(label.group(2))
        elif event.due_on is not None:
            message["days_from_due"] = (now.date() - event.due_on).days
    if kind is not Kind.REPORT_READY and message["to_stage"] is None and event.stage:
        message["stage"] = {"code": event.stage, "name": stage_name(event.stage)}
    else:
        message["stage"] = message["to_stage"]
    if kind is Kind.REPORT_READY:
        message["report"] = await _report_facts(session, settings, event)
    message["subject"] = subject_of(message)
    message["summary"] = summary_of(message)
    return message


async def _report_facts(
    session: AsyncSession, settings: Settings, event: NotificationEvent
) -> dict[str, Any]:
    data = dict(event.data)
    code = data.pop("meeting", None)
    as_of = data.pop("as_of", None)
    meeting = await session.scalar(select(Meeting).where(Meeting.code == code)) if code else None
    return {
        "meeting": code,
        "meeting_title": meeting.title if meeting else code,
        "as_of": as_of,
        "deadline": event.due_on.isoformat() if event.due_on else None,
        "downloads": {fmt.upper(): absolute(settings, href) for fmt, href in sorted(data.items())},
    }


# --- subject and summary (also the feed entry's title and body) ------------------------------


def _title(message: dict[str, Any]) -> str:
    activity = message["activity"]
    return str(activity["title"]) if activity else "An activity"


def _days(count: int) -> str:
    return "1 day" if abs(count) == 1 else f"{abs(count)} days"


def subject_of(message: dict[str, Any]) -> str:
    """'Regional synergies workshops moved to pilot project': what happened to what, in words."""
    kind, title = Kind(message["kind"]), _title(message)
    stage = (message.get("stage") or {}).get("name", "")
    days = message.get("days_from_due")
    due = long_date(message.get("due_on"))
    if kind is Kind.MOVE:
        to_stage = message["to_stage"] or {}
        if to_stage.get("code") in (Stage.CLOSED, Stage.WITHDRAWN):
            return f"{title} {to_stage['name']}"
        return f"{title} moved to {to_stage.get('name', 'a new stage')}"
    if kind is Kind.EDIT:
        return f"{title}: {stage} now due {due}" if due else f"{title}: {stage} no longer has a due date"
    if kind is Kind.REMINDER:
        if days is None or days == 0:
            return f"Due today: {title} ({stage})"
        if days < 0:
            return f"Reminder: {title} ({stage}) is due in {_days(days)}, on {due}"
        return f"Reminder: {title} ({stage}) was due on {due}"
    if kind is Kind.OVERDUE:
        return f"Overdue {_days(days or 0)}: {title} ({stage}, due {due})"
    if kind is Kind.MANAGEMENT:
        return f"For the joint management group: {title} overdue {_days(days or 0)}"
    report = message["report"] or {}
    return f"Draft progress report for {report.get('meeting_title') or 'the meeting'} ready for review"


def summary_of(message: dict[str, Any]) -> str:
    """One paragraph: who did what when, for the feed and the top of every message."""
    kind = Kind(message["kind"])
    actor = (message.get("actor") or {}).get("name")
    stage = (message.get("stage") or {}).get("name", "")
    due = long_date(message.get("due_on"))
    if kind is Kind.MOVE:
        from_stage = (message.get("from_stage") or {}).get("name")
        to_stage = (message.get("to_stage") or {}).get("name", "")
        text = f"{actor or 'The tracker'} moved it"
        text += f" from {from_stage} to {to_stage}" if from_stage else f" to {to_stage}"
        text += f" on {long_time(message['at'])}."
        if message.get("reason"):
            text += f" Reason: {message['reason']}"
        if due:
            text += f"{'' if text.endswith('.') else '.'} The {to_stage} stage is due on {due}."
        return text
    if kind is Kind.EDIT:
        previous = long_date(message.get("previous_due_on"))
        if actor:
            text = f"{actor} changed the due date of the {stage} stage"
        else:
            text = f"The due date of the {stage} stage moved"
        if previous:
            text += f" from {previous}"
        return text + (f" to {due}." if due else "; it no longer has one.")
    if kind is Kind.REMINDER:
        days = message.get("days_from_due") or 0
        when = "today" if days == 0 else (f"in {_days(days)}" if days < 0 else f"{_days(days)} ago")
        return f"The {stage} stage is due {when}, on {due}."
    if kind in (Kind.OVERDUE, Kind.MANAGEMENT):
        return f"The {stage} stage was due on {due}: {_days(message.get('days_from_due') or 0)} overdue."
    report = message["report"] or {}
    return (
        f"The draft progress report on joint activities for {report.get('meeting_title')} "
        f"(as of {long_date(report.get('as_of'))}) is ready for review before the document "
        f"deadline, {long_date(report.get('deadline'))}."
    )


# --- per recipient ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to: their name (None for a group address) and why they get it."""

    name: str | None
    why: Why
    conventions: tuple[str, ...] = ()


def why_text(recipient: Recipient) -> str:
    conventions = f" for {', '.join(recipient.conventions)}" if recipient.conventions else ""
    return {
        Why.LEAD: "You get this because you lead this activity.",
        Why.WATCHER: "You get this because you watch this activity.",
        Why.COORDINATOR: f"You get this because you are a coordinator{conventions}.",
        Why.MANAGEMENT: "You get this because you sit on the joint management group.",
        Why.SUBSCRIBER: "You get this because one of your subscriptions matches it.",
        Why.COORDINATORS_GROUP: "Sent to the coordinators group's address.",
        Why.MANAGEMENT_GROUP: "Sent to the joint management group's address.",
    }[recipient.why]


def expected_action(message: dict[str, Any], recipient: Recipient) -> str:
    """The first line of the message: what this reader is expected to do now."""
    kind, why = Kind(message["kind"]), recipient.why
    lead = ((message.get("activity") or {}).get("lead") or {}).get("name") or "the lead"
    due = long_date(message.get("due_on"))
    stage = (message.get("stage") or {}).get("name", "")
    if kind is Kind.MOVE:
        to_stage = message.get("to_stage") or {}
        if to_stage.get("code") in (Stage.CLOSED, Stage.WITHDRAWN):
            return "Nothing to do: this activity is finished."
        if why is Why.LEAD:
            return f"Plan the {to_stage.get('name')} stage" + (f": it is due on {due}." if due else ".")
        return "For your information: no action is needed unless the move is wrong."
    if kind is Kind.EDIT:
        if why is Why.LEAD:
            return f"Plan for the new due date of the {stage} stage" + (f", {due}." if due else ".")
        return "For your information: no action is needed."
    if kind is Kind.REMINDER:
        if why is Why.LEAD:
            return (
                f"Move the activity on or update it by {due}; acknowledge this reminder, or "
                "snooze it if you need more time."
            )
        return f"For your information: {lead} has been reminded."
    if kind is Kind.OVERDUE:
        if why is Why.LEAD:
            return "Move the activity on, or agree a new due date with the coordinators."
        return f"Follow up with {lead}: the stage is overdue."
    if kind is Kind.MANAGEMENT:
        if why in (Why.MANAGEMENT, Why.MANAGEMENT_GROUP):
            return "Decide with the coordinators whether to re-plan, re-assign or withdraw this activity."
        if why is Why.LEAD:
            return "The joint management group has been told; move the activity on or agree a new due date."
        return f"Follow up with {lead}: the joint management group has been told."
    deadline = long_date((message.get("report") or {}).get("deadline"))
    return f"Review the draft and send corrections before the document deadline, {deadline}."


# --- rendering --------------------------------------------------------------------------------


@lru_cache
def _environments() -> tuple[Environment, Environment]:
    def make(autoescape: bool) -> Environment:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]) if autoescape else False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        environment.filters["long_date"] = long_date
        environment.filters["long_time"] = long_time
        return environment

    return make(False), make(True)


@dataclass(frozen=True)
class ActionLink:
    label: str
    url: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(
    message: dict[str, Any],
    recipient: Recipient,
    settings: Settings,
    actions: tuple[ActionLink, ...] = (),
) -> Rendered:
    """Subject, plain text and HTML of `message` for `recipient` (templates `{kind}.txt/.html`)."""
    context = {
        "m": message,
        "recipient": recipient,
        "greeting": f"Dear {recipient.name}," if recipient.name else "Dear colleagues,",
        "todo": expected_action(message, recipient),
        "why": why_text(recipient),
        "settings_url": settings_url(settings),
        "actions": actions,
    }
    text_env, html_env = _environments()
    kind = message["kind"]
    return Rendered(
        subject=message["subject"],
        text=text_env.get_template(f"{kind}.txt").render(context),
        html=html_env.get_template(f"{kind}.html").render(context),
    )


@dataclass(frozen=True)
class DigestEntry:
    at: datetime
    message: dict[str, Any]


def render_digest(
    settings: Settings,
    name: str,
    day: date,
    weekly: bool,
    changes: list[DigestEntry],
    due: list[dict[str, Any]],
) -> Rendered:
    """One message listing what changed since the last digest and what is due or overdue."""
    period = "weekly" if weekly else "daily"
    parts = [f"{len(changes)} update{'s' if len(changes) != 1 else ''}"]
    if due:
        parts.append(f"{len(due)} due soon or overdue")
    subject = f"Synergies Tracker {period} digest, {long_date(day)}: {', '.join(parts)}"
    context = {
        "name": name,
        "day": day,
        "period": period,
        "changes": changes,
        "due": due,
        "settings_url": settings_url(settings),
    }
    text_env, html_env = _environments()
    return Rendered(
        subject=subject,
        text=text_env.get_template("digest.txt").render(context),
        html=html_env.get_template("digest.html").render(context),
    )


# --- the e-mail itself ------------------------------------------------------------------------


def mail_domain(settings: Settings) -> str:
    return urlsplit(settings.public_url).hostname or "synergies-tracker"


def thread_id(settings: Settings, activity_id: int) -> str:
    """The Message-ID every message about one activity refers to, so they thread together."""
    return f"<activity-{activity_id}@{mail_domain(settings)}>"


_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in a mail client's source view, unlike base64


def _set_text(message: Message, name: str, value: str) -> None:
    """A header of free text, RFC 2047-encoded when it is not ASCII."""
    message[name] = value if value.isascii() else Header(value, "utf-8")  # type: ignore[assignment]


def email_message(
    settings: Settings,
    rendered: Rendered,
    *,
    to: str,
    key: str,
    activity_id: int | None,
    activity_title: str | None,
    now: datetime,
) -> Message:
    """A multipart/alternative mail with the headers mail clients need to show, thread and filter
    it (RFC 5322 Date, Message-ID; In-Reply-To/References per activity; List-Unsubscribe).

    Built with the email package's compat32 classes: headers stored as given (RFC 2047-encoded
    when not ASCII) rather than parsed into structured ones, a third of `EmailMessage`'s CPU per
    mail, and mail is most of a move's notification work."""
    message = MIMEMultipart("alternative")
    message["From"] = (
        formataddr((settings.smtp_from_name, settings.smtp_from))
        if "@" in settings.smtp_from
        else settings.smtp_from
    )
    message["To"] = to
    _set_text(message, "Subject", rendered.subject)
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{mail_domain(settings)}>"
    if activity_id is not None:
        message["In-Reply-To"] = thread_id(settings, activity_id)
        message["References"] = thread_id(settings, activity_id)
        if activity_title:
            _set_text(message, "Thread-Topic", activity_title)
    message["List-Id"] = f"Synergies Tracker <notifications.{mail_domain(settings)}>"
    message["List-Unsubscribe"] = f"<{settings_url(settings)}>"
    message["Auto-Submitted"] = "auto-generated"
    _set_text(message, "X-Synergies-Delivery", key)
    for content, subtype in ((rendered.text, "plain"), (rendered.html, "html")):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(content, _UTF8)
        message.attach(part)
    return message


def render_action_page(
    heading: str,
    text: str,
    *,
    activity_title: str | None = None,
    button: str | None = None,
    link: str | None = None,
) -> str:
    """The small page a one-click link opens: a confirmation with one button (a GET never acts,
    since mail scanners follow links), or the outcome."""
    return (
        _environments()[1]
        .get_template("action_page.html")
        .render(heading=heading, text=text, activity_title=activity_title, button=button, link=link)
    )
