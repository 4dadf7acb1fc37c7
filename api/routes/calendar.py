"""The caller's iCalendar feed (`/me/calendar.ics`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.routes.events import QueryTokenPrincipal
from core.errors import NotFound
from models import utcnow
from services.calendar import calendar_for
from services.dashboard import utc_today
from services.web_auth import person_for_calendar

router = APIRouter(tags=["calendar"])


@router.get(
    "/me/calendar.ics",
    summary="Your due dates and the meetings, as an iCalendar feed",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "iCalendar (RFC 5545)"}},
)
async def my_calendar(request: Request, principal: QueryTokenPrincipal) -> Response:
    """All-day events for the stage due dates of the open activities you lead, and for each
    meeting (its dates and its document deadline), with stable UIDs so calendars update in place.

    Calendar programs cannot send an `Authorization` header: subscribe to
    `/me/calendar.ics?token=<your API token>`. Any active API token of yours works; issue a
    separate one named for the calendar (`synergies token create`) so that you can revoke it
    alone if the URL leaks (it shows up in the calendar program and in proxy logs).
    """
    return await _calendar(request, principal.person_id)


@router.get(
    "/calendar/{secret}.ics",
    summary="A person's calendar feed, opened by its own revocable secret",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "iCalendar (RFC 5545)"}},
)
async def calendar_feed(request: Request, secret: str) -> Response:
    """The same feed as `/me/calendar.ics`, for a calendar program: the secret (made under *My
    work* in the web app) opens this feed only, so a leaked URL exposes due dates, not the account."""
    async with request.app.state.sessionmaker() as session:
        person_id = await person_for_calendar(session, secret)
    if person_id is None:
        raise NotFound("no calendar feed at this address (it may have been replaced or stopped)")
    return await _calendar(request, person_id)


async def _calendar(request: Request, person_id: int) -> Response:
    async with request.app.state.sessionmaker() as session:
        body = await calendar_for(
            session,
            person_id,
            public_url=request.app.state.settings.public_url,
            today=utc_today(),
            now=utcnow(),
        )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="synergies.ics"',
            "Cache-Control": "private, no-store",
        },
    )
