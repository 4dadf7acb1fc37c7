"""A person's iCalendar feed: the stage due dates of the activities they lead, and the meetings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.stages import OPEN_STAGES
from models import Activity, Meeting

PAST_MEETINGS_KEPT = timedelta(days=365)


def uid_domain(public_url: str) -> str:
    return urlsplit(public_url).hostname or "synergies-tracker"


def _all_day(
    uid: str,
    summary: str,
    start: date,
    end: date,
    stamp: datetime,
    description: str = "",
    url: str | None = None,
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", end + timedelta(days=1))  # all-day events end the day after (exclusive)
    event.add("transp", "TRANSPARENT")
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    return event


async def calendar_for(
    session: AsyncSession, person_id: int, *, public_url: str, today: date, now: datetime
) -> bytes:
    """UIDs are stable: `activity-<id>-<stage>-due@host` follows an activity's current stage due
    date (moving the date updates the event; leaving the stage removes it), `meeting-<id>@host`
    and `meeting-<id>-documents@host` follow a meeting."""
    domain = uid_domain(public_url)
    base = public_url.rstrip("/")
    calendar = Calendar()
    calendar.add("prodid", "-//Synergies Tracker//Oversight calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Synergies Tracker")

    activities = await session.execute(
        select(Activity.id, Activity.title, Activity.stage, Activity.stage_due_on)
        .where(
            Activity.lead_id == person_id,
            Activity.stage.in_(OPEN_STAGES),
            Activity.stage_due_on.is_not(None),
        )
        .order_by(Activity.stage_due_on, Activity.id)
    )
    for activity_id, title, stage, due_on in activities:
        assert due_on is not None  # filtered in SQL
        stage_label = str(stage).replace("_", " ")
        calendar.add_component(
            _all_day(
                f"activity-{activity_id}-{stage}-due@{domain}",
                f"Due: {title} ({stage_label})",
                due_on,
                due_on,
                now,
                description=f"The {stage_label} stage of activity {activity_id} is due.",
                url=f"{base}/activities/{activity_id}",
            )
        )

    meetings = await session.scalars(
        select(Meeting).where(Meeting.ends_on >= today - PAST_MEETINGS_KEPT).order_by(Meeting.starts_on)
    )
    for meeting in meetings.all():
        conventions = ", ".join(meeting.convention_codes)
        where = f" ({meeting.venue})" if meeting.venue else ""
        event = _all_day(
            f"meeting-{meeting.id}@{domain}",
            meeting.title,
            meeting.starts_on,
            meeting.ends_on,
            now,
            description=f"{meeting.code}{where}; conventions: {conventions or '-'}",
        )
        if meeting.venue:
            event.add("location", meeting.venue)
        calendar.add_component(event)
        deadline = meeting.document_deadline
        calendar.add_component(
            _all_day(
                f"meeting-{meeting.id}-documents@{domain}",
                f"Document deadline: {meeting.title}",
                deadline,
                deadline,
                now,
                description=f"Pre-session documents for {meeting.code} are due.",
            )
        )
    return calendar.to_ical()
