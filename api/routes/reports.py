"""COP progress reports: rendered on request as the record stood on a day, and the stored drafts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.deps import Reader, SessionDep
from api.examples import examples
from api.pagination import Page, PageQuery, page_of
from core.errors import DomainError, NotFound
from core.settings import get_settings
from models import Meeting, StoredReport
from services.pagination import Sorting, paginate
from services.report_render import FORMATS, MEDIA_TYPES, ReportFormat, render_within
from services.report_text import Language
from services.reports import Report, Variant, build_report, get_meeting

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


REPORT_EXAMPLE: dict[str, Any] = {
    "header": {
        "meeting_id": 2,
        "meeting_code": "SC-COP5",
        "meeting_title": "Fifth meeting of the Conference of the Parties to the Stockholm Convention",
        "venue": "Geneva, Switzerland",
        "starts_on": "2011-04-25",
        "ends_on": "2011-04-29",
        "dates": "25–29 April 2011",
        "conventions": ["SC"],
        "document_symbol": "UNEP/POPS/COP.5/INF/xx",
        "document_deadline": "2011-03-14",
        "title": "Progress report on joint activities",
        "annex_title": "Actions by the secretariats to respond to the specific requests for joint activities",
        "as_of": "2011-03-14",
        "variant": "document",
        "lang": "en",
        "symbols": ["UNEP/POPS/COP.5/INF/xx"],
        "mastheads": ["Stockholm Convention on Persistent Organic Pollutants"],
        "meetings": [
            {
                "code": "SC-COP5",
                "title": "Fifth meeting of the Conference of the Parties to the Stockholm Convention",
                "place_and_dates": "Geneva, Switzerland, 25–29 April 2011",
                "agenda_item": None,
                "agenda_item_title": None,
                "footnote": None,
            }
        ],
        "date_line": "14 March 2011",
        "note_by": "Note by the secretariat",
        "introduction": ["Reference is made to decision SC-4/21 and decision SC-4/34 ..."],
        "possible_action": [],
        "secretariats": "Secretariat of the Stockholm Convention",
        "provision_column": "Applicable provision of the synergies decisions",
        "joint": False,
    },
    "sections": [
        {
            "number": "I",
            "title": "Organizational issues in the field",
            "heading": "I. Organizational issues in the field",
            "subsections": [
                {
                    "letter": "A",
                    "title": "Coordination at the national level",
                    "heading": "A. Coordination at the national level",
                    "provisions": [
                        {
                            "id": 1,
                            "element_code": "BRS/SYN/I.A.4",
                            "paragraph": "4",
                            "subparagraph": None,
                            "label": "(4)",
                            "text": "Requests the secretariats of the Basel, Rotterdam and Stockholm ...",
                            "citation": "IX/10, RC-4/11, SC-4/34 section I paragraph 4",
                            "decisions": ["SC-4/34"],
                            "activities": [
                                {
                                    "id": 1,
                                    "title": "Regional synergies workshops",
                                    "conventions": ["BC", "SC"],
                                    "taken": [
                                        {
                                            "on_date": "2009-10-30",
                                            "kind": "taken",
                                            "text": "The first synergies workshop was held in Pretoria ...",
                                        }
                                    ],
                                    "planned": [],
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ],
    "summary": {"provisions": 18, "provisions_without_action": 4, "activities": 22},
}
"""The `format=json` answer, abridged (the other formats render the same report)."""

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report in the requested format",
        "content": {
            media.split(";")[0]: {"example": REPORT_EXAMPLE} if "json" in media else {}
            for media in MEDIA_TYPES.values()
        },
    },
    404: {"description": "Unknown meeting"},
    406: {"description": "No acceptable format"},
    422: {"description": "Bad format, date, variant or language"},
    503: {"description": "Rendering took longer than the time budget"},
}
FormatQuery = Annotated[
    ReportFormat | None,
    Query(description=f"One of {', '.join(FORMATS)}; otherwise the Accept header decides"),
]
AsOfQuery = Annotated[
    date | None, Query(description="The day the record is reported as of (default: today, UTC)")
]
VariantQuery = Annotated[
    Variant,
    Query(
        description="document: what a secretariat submits (annex prose only); internal: with stages, "
        "due dates, overdue flags and history, for the coordinators group"
    ),
]
LangQuery = Annotated[Language, Query(description="Language of the document's fixed text (en, fr, es)")]
NumberQuery = Annotated[
    str | None,
    Query(
        max_length=16,
        pattern=r"^[0-9A-Za-z.\-]+$",
        description="INF document number for the symbol (default: the meeting's report symbol, else xx)",
    ),
]


async def _respond(report: Report, fmt: ReportFormat) -> Response:
    content, media_type, filename = await render_within(report, fmt, get_settings().report_render_seconds)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": _disposition(fmt, filename), "Vary": "Accept"},
    )


@router.get(
    "/meetings/{meeting}",
    summary="Progress report on joint activities for one COP, as the record stood on a day",
    response_class=Response,
    responses=_RESPONSES,
)
async def meeting_report(
    principal: Reader,
    session: SessionDep,
    meeting: Annotated[str, Path(description="Meeting id or code, e.g. SC-COP5")],
    format: FormatQuery = None,
    as_of: AsOfQuery = None,
    variant: VariantQuery = Variant.DOCUMENT,
    lang: LangQuery = Language.EN,
    number: NumberQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    fmt = format or negotiate(accept)
    day = as_of or datetime.now(UTC).date()
    found = await get_meeting(session, meeting)
    report = await build_report(session, found, day, document_number=number, variant=variant, lang=lang)
    return await _respond(report, fmt)


@router.get(
    "/joint",
    summary="The joint note on joint activities for several COPs (one text for all, as in 2009)",
    response_class=Response,
    responses=_RESPONSES,
)
async def joint_report(
    principal: Reader,
    session: SessionDep,
    meetings: Annotated[
        str,
        Query(
            min_length=1,
            max_length=300,
            description="Comma-separated meeting ids or codes, e.g. BC-COP10,RC-COP5,SC-COP5",
        ),
    ],
    format: FormatQuery = None,
    as_of: AsOfQuery = None,
    variant: VariantQuery = Variant.DOCUMENT,
    lang: LangQuery = Language.EN,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    fmt = format or negotiate(accept)
    day = as_of or datetime.now(UTC).date()
    refs = [ref.strip() for ref in meetings.split(",") if ref.strip()]
    if not refs or len(refs) > 10:
        raise BadMeetings("meetings: give 1 to 10 meeting ids or codes, comma-separated")
    found = [await get_meeting(session, ref) for ref in refs]
    found.sort(key=lambda m: (m.starts_on, m.code))
    report = await build_report(session, found, day, variant=variant, lang=lang)
    return await _respond(report, fmt)


class BadMeetings(DomainError):
    status, code = 422, "bad_meetings"


class StoredReportRead(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples("StoredReportRead"))

    id: int
    meeting_id: int
    meeting_code: str
    format: str
    as_of: date
    media_type: str
    size: int = Field(description="bytes")
    created_at: datetime
    download: str = Field(description="path of the download")


STORED_SORTING = Sorting(
    {"created_at": StoredReport.created_at, "id": StoredReport.id},
    default="-created_at",
    tiebreak=StoredReport.id,
)


@router.get(
    "/stored",
    response_model=Page[StoredReportRead],
    summary="Stored report drafts, newest first (cursor paginated)",
)
async def stored_reports(
    principal: Reader,
    session: SessionDep,
    page: PageQuery,
    meeting: Annotated[str | None, Query(description="Meeting id or code")] = None,
) -> Page[StoredReportRead]:
    query = select(
        StoredReport.id,
        StoredReport.meeting_id,
        Meeting.code,
        StoredReport.format,
        StoredReport.as_of,
        StoredReport.media_type,
        func.length(StoredReport.content),
        StoredReport.created_at,
    ).join(Meeting, Meeting.id == StoredReport.meeting_id)
    if meeting is not None:
        query = query.where(StoredReport.meeting_id == (await get_meeting(session, meeting)).id)
    found = await paginate(session, query, STORED_SORTING, page, scalars=False)
    return page_of(page, found, _stored_read)


def _stored_read(row: Any) -> StoredReportRead:
    row_id, meeting_id, code, fmt, day, media_type, size, created_at = row
    return StoredReportRead(
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
