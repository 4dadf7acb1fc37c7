"""My work, notifications, the calendar feed, notification settings and sessions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ADMINS, PROGRESS_WRITERS, Principal, ProgressWriter, Reader, SessionDep, SettingsDep
from api.web import queries
from api.web.pages.common import commit_and_see_other
from api.web.templating import render
from core.errors import NotFound
from models import Convention, Person
from services import notifications as feed
from services import web_auth
from services.pagination import PageParams

router = APIRouter(include_in_schema=False)


async def _my_work(
    request: Request, principal: Principal, session: AsyncSession, new_feed_url: str | None = None
) -> HTMLResponse:
    activities = await queries.my_activities(session, principal.person_id)
    feed_page, unread = await feed.list_notifications(
        session, principal.person_id, unread=False, page=PageParams(sort="-id", cursor=None, limit=30)
    )
    return render(
        request,
        "app/my_work.html",
        activities=activities,
        reminders=await queries.open_reminders(session, [a.id for a in activities]),
        notifications=feed_page.rows,
        unread=unread,
        due_state=queries.due_state,
        can_subscribe=PROGRESS_WRITERS.admits(principal.role),
        has_feed=await web_auth.calendar_feed_of(session, principal.person_id) is not None,
        new_feed_url=new_feed_url,
    )


@router.get("/app/my-work")
async def my_work(request: Request, principal: Reader, session: SessionDep) -> HTMLResponse:
    return await _my_work(request, principal, session)


@router.post("/app/calendar-feed")
async def new_calendar_feed(
    request: Request, principal: ProgressWriter, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """A new feed address, shown once on the page (never put in a redirect's URL or a log)."""
    url = await web_auth.new_calendar_feed(session, principal.person_id, settings)
    await session.commit()
    return await _my_work(request, principal, session, new_feed_url=url)


@router.post("/app/calendar-feed/stop")
async def stop_calendar_feed(principal: ProgressWriter, session: SessionDep) -> Response:
    await web_auth.revoke_calendar_feed(session, principal.person_id)
    return await commit_and_see_other(session, "/app/my-work#calendar")


@router.get("/app/settings/notifications")
async def notification_settings(
    request: Request, principal: Reader, session: SessionDep, saved: bool = False
) -> HTMLResponse:
    """Where every mail's List-Unsubscribe and footer point: how often, own changes, conventions."""
    person = await session.get(Person, principal.person_id)
    if person is None:
        raise NotFound("no such person")
    return render(
        request,
        "app/notification_settings.html",
        digest=feed.digest_of(person),
        own=person.notify_own_changes,
        mine=await feed.my_conventions(session, person.id),
        conventions=list(await session.scalars(select(Convention).order_by(Convention.code))),
        saved=saved,
    )


@router.post("/app/settings/notifications")
async def save_notification_settings(
    principal: Reader,
    session: SessionDep,
    digest: Annotated[Literal["off", "daily", "weekly"], Form()] = "off",
    notify_own_changes: Annotated[bool, Form()] = False,
    conventions: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """The same change as PATCH /me."""
    changes = {"digest": digest, "notify_own_changes": notify_own_changes, "conventions": conventions}
    await feed.update_me(session, principal.person_id, changes)
    return await commit_and_see_other(session, "/app/settings/notifications?saved=1")


@router.post("/app/notifications/{notification_id}/read")
async def read_notification(notification_id: int, principal: Reader, session: SessionDep) -> Response:
    await feed.mark_read(session, principal.person_id, notification_id)
    return await commit_and_see_other(session, "/app/my-work#notifications")


@router.post("/app/notifications/read-all")
async def read_all_notifications(principal: Reader, session: SessionDep) -> Response:
    await feed.mark_all_read(session, principal.person_id)
    return await commit_and_see_other(session, "/app/my-work#notifications")


@router.get("/app/sessions")
async def sessions_page(request: Request, principal: Reader, session: SessionDep) -> HTMLResponse:
    everyone = ADMINS.admits(principal.role)
    rows = await web_auth.sessions_of(session, None if everyone else principal.person_id)
    return render(
        request,
        "app/sessions.html",
        sessions=rows,
        everyone=everyone,
        current=getattr(request.state, "web_session_id", None),
    )


@router.post("/app/sessions/{session_id}/revoke")
async def revoke(session_id: int, principal: Reader, session: SessionDep) -> Response:
    everyone = ADMINS.admits(principal.role)
    if not await web_auth.revoke_session(
        session, session_id, person_id=None if everyone else principal.person_id
    ):
        raise NotFound(f"session {session_id} does not exist or is already signed out")
    return await commit_and_see_other(session, "/app/sessions")
