"""Jinja2 for the web app: the plain-English words for stages and moves, and dates as people
write them ("5 December 2026")."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from core.stages import MoveKind, Stage

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "app"

STAGE_NAMES = {
    Stage.THEMATIC_GROUP: "Thematic group",
    Stage.TASK_TEAM: "Task team",
    Stage.PILOT_PROJECT: "Pilot project",
    Stage.REPORT_TO_COP: "Report to COP",
    Stage.CLOSED: "Closed",
    Stage.WITHDRAWN: "Withdrawn",
}
MOVE_WORDS = {
    MoveKind.FORWARD: "Move forward to",
    MoveKind.REWORK: "Send back to",
    MoveKind.SKIP_PILOT: "Skip the pilot: go to",
    MoveKind.WITHDRAW: "Withdraw",
    MoveKind.CLOSE: "Close after the COP has considered it",
}
# The app's main navigation; the oversight views add their entries here.
NAV = [
    ("/app/", "Board"),
    ("/app/my-work", "My work"),
    ("/app/oversight", "Oversight"),
    ("/app/reports", "Reports"),
]
ROLE_NAMES = {
    "admin": "Administrator",
    "coordinator": "Coordinators group",
    "task_team_lead": "Task-team lead",
    "oversight": "Oversight team",
}


def long_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y}"


def date_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return f"{long_date(value)}, {value:%H:%M} UTC"


def stage_name(value: str | Stage | None) -> str:
    return STAGE_NAMES[Stage(value)] if value else "—"


_FIELD_NOTE = re.compile(r"\s*\((?:single_convention_reason|target_meeting_id|meeting_id)\)")
_STAGE_WORD = re.compile(r"\b(" + "|".join(stage.value for stage in Stage) + r")\b")


def plain_words(message: str) -> str:
    """The stage machine's messages (written for API clients) with stage names as words and
    without the API's field names."""
    message = _FIELD_NOTE.sub("", message)
    return _STAGE_WORD.sub(lambda match: STAGE_NAMES[Stage(match.group(1))].lower(), message)


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters.update(
    long_date=long_date,
    date_time=date_time,
    stage_name=stage_name,
    plain_words=plain_words,
    role_name=ROLE_NAMES.get,
)
templates.env.globals.update(nav=NAV, move_words=MOVE_WORDS, new_request_id=lambda: uuid.uuid4().hex)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the signed-in person and their CSRF token when there is one."""
    context.setdefault("principal", getattr(request.state, "principal", None))
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    return templates.TemplateResponse(request, name, context, status_code=status)
