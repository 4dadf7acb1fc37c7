"""The reports page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import Reader, SessionDep
from api.web.pages.common import see_other
from api.web.templating import render
from models import Meeting
from services.reports import Variant, may_read

router = APIRouter(include_in_schema=False)


@router.get("/app/reports")
async def reports_page(
    request: Request,
    principal: Reader,
    session: SessionDep,
    meeting: str = "",
    format: str = "",
    as_of: str = "",
    variant: str = "document",
    lang: str = "en",
) -> Response:
    """Pick a meeting, a variant, a language and a format; the download itself is the API's
    /reports route, which accepts the browser's session like a token (and refuses bad values)."""
    if meeting and format:
        query = {"format": format, "variant": variant, "lang": lang, **({"as_of": as_of} if as_of else {})}
        return see_other(f"/reports/meetings/{meeting}?{urlencode(query)}")
    meetings = list(await session.scalars(select(Meeting).order_by(Meeting.starts_on.desc())))
    internal = may_read(principal.role, Variant.INTERNAL)
    return render(request, "app/reports.html", meetings=meetings, internal=internal)
