"""COP progress reports: rendered on request as the record stood on a day, and the stored drafts."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import Reader, SessionDep
from api.errors import DomainError, NotFound
from api.services.report_render import FORMATS, MEDIA_TYPES, ReportFormat, render
from api.services.reports import build_report, get_meeting
from models import Meeting, StoredReport

router = APIRouter(prefix="/reports", tags=["reports"])

_BY_MEDIA_TYPE = {media.split(";")[0]: fmt for fmt, media in MEDIA_TYPES.items()}
_ALIASES = {
    "application/msword": ReportFormat.DOCX,
    "application/xhtml+xml": ReportFormat.HTML,
    "text/x-markdown": ReportFormat.MD,
    "application/csv": ReportFormat.CSV,
    "text/plain": ReportFormat.MD,
}
DEFAULT_FORMAT = ReportFormat.JSON
_ATTACHMENT = {ReportFormat.DOCX, ReportFormat.PDF, ReportFormat.CSV}


class NotAcceptable(DomainError):
    status, code = 406, "not_acceptable"


def negotiate(accept: str | None) -> ReportFormat:
    """The format the Accept header prefers (q-values honoured); JSON for none or */*."""
    if not accept or not accept.strip():
        return DEFAULT_FORMAT
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media and q > 0:
            ranges.append((-q, index, media.lower()))
    for _, _, media in sorted(ranges):
        if media in _BY_MEDIA_TYPE:
            return _BY_MEDIA_TYPE[media]
        if media in _ALIASES:
            return _ALIASES[media]
        if media in ("*/*", "application/*"):
            return DEFAULT_FORMAT
        if media == "text/*":
            return ReportFormat.HTML
    raise NotAcceptable(
        f"none of the media types in Accept ({accept}) can be produced; formats: "
        f"{', '.join(FORMATS)} ({', '.join(media for media in _BY_MEDIA_TYPE)}), or use ?format=",
        formats=list(FORMATS),
    )


def _disposition(fmt: ReportFormat, filename: str) -> str:
    return f'{"attachment" if fmt in _ATTACHMENT else "inline"}; filename="{filename}"'


@router.get(
    "/meetings/{meeting}",
    summary="Progress report on joint activities for one COP, as the record stood on a day",
    response_class=Response,
    responses={
        200: {
            "description": "The report in the requested format",
            "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
        },
        404: {"description": "Unknown meeting"},
        406: {"description": "No acceptable format"},
        422: {"description": "Bad format or date"},
    },
)
async def meeting_report(
    principal: Reader,
    session: SessionDep,
    meeting: Annotated[str, Path(description="Meeting id or code, e.g. SC-COP5")],
    format: Annotated[
        ReportFormat | None,
        Query(description=f"One of {', '.join(FORMATS)}; otherwise the Accept header decides"),
    ] = None,
    as_of: Annotated[
        date | None, Query(description="The day the record is reported as of (default: today, UTC)")
    ] = None,
    number: Annotated[
        str | None,
        Query(
            max_length=16,
            pattern=r"^[0-9A-Za-z.\-]+$",
            description="INF document number for the symbol (default: xx)",
        ),
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    fmt = format or negotiate(accept)
    day = as_of or datetime.now(UTC).date()
    found = await get_meeting(session, meeting)
    report = await build_report(session, found, day, document_number=number)
    content, media_type, filename = await asyncio.to_thread(render, report, fmt)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": _disposition(fmt, filename), "Vary": "Accept"},
    )


class StoredReportRead(BaseModel):
    id: int
    meeting_id: int
    meeting_code: str
    format: str
    as_of: date
    media_type: str
    size: int = Field(description="bytes")
    created_at: datetime
    download: str = Field(description="path of the download")


@router.get("/stored", summary="Stored report drafts, newest first")
async def stored_reports(
    principal: Reader,
    session: SessionDep,
    meeting: Annotated[str | None, Query(description="Meeting id or code")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[StoredReportRead]:
    query = (
        select(
            StoredReport.id,
            StoredReport.meeting_id,
            Meeting.code,
            StoredReport.format,
            StoredReport.as_of,
            StoredReport.media_type,
            func.length(StoredReport.content),
            StoredReport.created_at,
        )
        .join(Meeting, Meeting.id == StoredReport.meeting_id)
        .order_by(StoredReport.created_at.desc(), StoredReport.id.desc())
        .limit(limit)
    )
    if meeting is not None:
        query = query.where(StoredReport.meeting_id == (await get_meeting(session, meeting)).id)
    rows = (await session.execute(query)).all()
    return [
        StoredReportRead(
            id=row_id,
            meeting_id=meeting_id,
            meeting_code=code,
            format=fmt,
            as_of=day,
            media_type=media_type,
            size=int(size or 0),
            created_at=created_at,
            download=f"/reports/stored/{row_id}",
        )
        for row_id, meeting_id, code, fmt, day, media_type, size, created_at in rows
    ]


@router.get(
    "/stored/{report_id}",
    summary="Download one stored report draft",
    response_class=Response,
    responses={200: {"description": "The stored file"}, 404: {"description": "No such report"}},
)
async def stored_report(principal: Reader, session: SessionDep, report_id: int) -> Response:
    row = (
        await session.execute(
            select(StoredReport, Meeting.code)
            .join(Meeting, Meeting.id == StoredReport.meeting_id)
            .where(StoredReport.id == report_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"stored report {report_id} does not exist", code="report_not_found")
    stored, code = row
    try:
        fmt = ReportFormat(stored.format)
    except ValueError:
        fmt = ReportFormat.JSON
    filename = f"{code}-progress-report-{stored.as_of.isoformat()}.{stored.format}"
    return Response(
        stored.content,
        media_type=stored.media_type,
        headers={"Content-Disposition": _disposition(fmt, filename)},
    )
