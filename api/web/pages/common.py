"""What the pages share: redirects after a form, the activity page's links, the sign-in return."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import unquote, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

Model = TypeVar("Model", bound=BaseModel)

# Where each guard's missing data is filled in on the activity page.
FIX_LINKS = {
    "think_synergies_first": (
        "field-conventions",
        "Add a convention, or record why it involves only one",
    ),
    "task_team_ready": ("field-task_team_id", "Choose a task team with a lead and an end date"),
    "pilot_defined": ("new-pilot-title", "Add a pilot project with a region and countries"),
    "lessons_learned": ("pilots", "Record lessons learned on every pilot project"),
    "target_meeting": ("field-target_meeting_id", "Choose the target COP meeting"),
}
EDITABLE = ("title", "description", "lead_id", "thematic_group_id", "task_team_id", "target_meeting_id")


NEXT_COOKIE = "synergies_next"


def after_sign_in_url(request: Request) -> str:
    """The app page the person asked for before signing in, or the board."""
    target = unquote(request.cookies.get(NEXT_COOKIE, ""))
    return target if target.startswith("/app/") and "//" not in target else "/app/"


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def commit_and_see_other(session: AsyncSession, url: str) -> RedirectResponse:
    """Commit, then redirect: the request session would commit only once the response is sent,
    and the browser's next GET could overtake it."""
    await session.commit()
    return see_other(url)


def activity_url(activity_id: int, notice: str = "", anchor: str = "") -> str:
    query = f"?{urlencode({'notice': notice})}" if notice else ""
    return f"/app/activities/{activity_id}{query}{('#' + anchor) if anchor else ''}"
