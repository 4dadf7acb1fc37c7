"""Drafting each COP's progress report ahead of its document deadline.

One `ReportDraftWorkflow` per meeting (id `report-<meeting code>`), started or re-timed by
`ensure_report_workflows` (signal-with-start of `reschedule(deadline)`, so running it again is
harmless and a moved meeting re-times its draft). The workflow sleeps on a durable timer until
`settings.report_draft_days_before_deadline` days before the document deadline (06:00 UTC), runs
`draft_report` (renders DOCX and PDF as the record stood that day and stores them as
`StoredReport` rows, idempotent on meeting + as_of + format), writes a REPORT_READY
`NotificationEvent` for the coordinators group to the notification outbox, then waits until the
deadline has passed. If the deadline moves later after the draft, it drafts again at the new date.

Worker registration: workflow `ReportDraftWorkflow`; activities `ReportActivities(sessionmaker,
settings).all()` (activity name `draft_report`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client

    from core.events import Audience, EventType, NotificationEvent
    from core.settings import Settings
    from models import Meeting, StoredReport
    from services.report_render import render
    from services.reports import build_report, get_meeting
    from workflows import sending

REPORT_WORKFLOW = "ReportDraftWorkflow"
DRAFT_FORMATS = ("docx", "pdf")
DRAFT_HOUR_UTC = 6
DRAFT_TIMEOUT = timedelta(minutes=10)
DRAFT_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=30),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=20,
)


def report_workflow_id(meeting_code: str) -> str:
    return f"report-{meeting_code}"


def stored_report_key(meeting_id: int, as_of: date, fmt: str) -> str:
    return f"meeting-{meeting_id}/{as_of.isoformat()}/{fmt}"


@dataclass(frozen=True)
class ReportDraftInput:
    meeting_id: int
    meeting_code: str
    deadline: date
    days_before: int = 14
    formats: tuple[str, ...] = DRAFT_FORMATS


@dataclass(frozen=True)
class DraftReportRequest:
    meeting_id: int
    as_of: date
    formats: tuple[str, ...] = DRAFT_FORMATS


@dataclass(frozen=True)
class StoredDraft:
    id: int
    format: str
    link: str


@dataclass(frozen=True)
class DraftResult:
    meeting_id: int
    meeting_code: str
    meeting_title: str
    as_of: date
    conventions: tuple[str, ...]
    activities: int
    overdue: int
    drafts: tuple[StoredDraft, ...]


@dataclass(frozen=True)
class ReportDraftStatus:
    meeting_code: str
    deadline: date
    draft_on: date
    drafted_as_of: date | None


# --- activities ---------------------------------------------------------------------------------


class ReportActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings

    def all(self) -> list[Callable[..., Any]]:
        return [self.draft_report]

    @activity.defn(name="draft_report")
    async def draft_report(self, request: DraftReportRequest) -> DraftResult:
        """Render the meeting's report as of `request.as_of` and store each format once."""
        async with self.sessionmaker() as session, session.begin():
            meeting = await get_meeting(session, request.meeting_id)
            report = await build_report(session, meeting, request.as_of)
            keys: dict[str, str] = {}
            for fmt in request.formats:
                key = stored_report_key(meeting.id, request.as_of, fmt)
                keys[fmt] = key
                if await session.scalar(select(StoredReport.id).where(StoredReport.key == key)):
                    continue  # a retry, or the same day drafted before
                content, media_type, _ = await asyncio.to_thread(render, report, fmt)
                dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
                await session.execute(
                    dialect.insert(StoredReport)
                    .values(
                        key=key,
                        meeting_id=meeting.id,
                        format=fmt,
                        as_of=request.as_of,
                        media_type=media_type,
                        content=content,
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                )
            stored = await session.execute(
                select(StoredReport.key, StoredReport.id).where(StoredReport.key.in_(keys.values()))
            )
            ids = {str(key): int(row_id) for key, row_id in stored.all()}
        return DraftResult(
            meeting_id=meeting.id,
            meeting_code=meeting.code,
            meeting_title=meeting.title,
            as_of=request.as_of,
            conventions=tuple(meeting.convention_codes),
            activities=report.summary.get("activities", 0),
            overdue=report.summary.get("overdue", 0),
            drafts=tuple(
                StoredDraft(id=int(ids[key]), format=fmt, link=f"/reports/stored/{int(ids[key])}")
                for fmt, key in keys.items()
            ),
        )


# --- the workflow -------------------------------------------------------------------------------


@workflow.defn(name=REPORT_WORKFLOW)
class ReportDraftWorkflow:
    @workflow.init
    def __init__(self, input: ReportDraftInput) -> None:
        self._input = input
        self._deadline = input.deadline
        self._version = 0
        self._drafted_as_of: date | None = None

    @workflow.signal
    def reschedule(self, deadline: date) -> None:
        """The meeting's document deadline moved (or was confirmed): re-time the draft."""
        if deadline != self._deadline:
            self._deadline = deadline
            self._version += 1

    @workflow.query
    def status(self) -> ReportDraftStatus:
        return ReportDraftStatus(
            meeting_code=self._input.meeting_code,
            deadline=self._deadline,
            draft_on=self._draft_on(),
            drafted_as_of=self._drafted_as_of,
        )

    def _draft_on(self) -> date:
        return self._deadline - timedelta(days=self._input.days_before)

    async def _sleep_until(self, at: datetime, seen: int) -> bool:
        """Durable timer until `at`; True when the deadline moved meanwhile (recompute)."""
        delay = at - workflow.now()
        if delay <= timedelta(0):
            return self._version != seen
        try:
            await workflow.wait_condition(lambda: self._version != seen, timeout=delay)
        except TimeoutError:
            return False
        return True

    @workflow.run
    async def run(self, input: ReportDraftInput) -> list[DraftResult]:
        results: list[DraftResult] = []
        while True:
            seen = self._version
            draft_on = self._draft_on()
            if self._drafted_as_of is None or draft_on > self._drafted_as_of:
                fire_at = datetime.combine(draft_on, time(DRAFT_HOUR_UTC), tzinfo=UTC)
                if await self._sleep_until(fire_at, seen):
                    continue
                as_of = workflow.now().date()
                result = await workflow.execute_activity_method(
                    ReportActivities.draft_report,
                    DraftReportRequest(meeting_id=input.meeting_id, as_of=as_of, formats=input.formats),
                    start_to_close_timeout=DRAFT_TIMEOUT,
                    retry_policy=DRAFT_RETRY_POLICY,
                )
                self._drafted_as_of = as_of
                results.append(result)
                await self._notify(result)
                continue
            # drafted: stay until the deadline has passed, in case the meeting moves later
            after_deadline = datetime.combine(self._deadline + timedelta(days=1), time.min, tzinfo=UTC)
            if await self._sleep_until(after_deadline, seen):
                continue
            return results

    async def _notify(self, result: DraftResult) -> None:
        links = {draft.format: draft.link for draft in result.drafts}
        link = links.get("docx") or next(iter(links.values()), None)
        event = NotificationEvent(
            key=f"{workflow.info().workflow_id}/report-ready/{result.as_of.isoformat()}",
            type=EventType.REPORT_READY,
            title=f"Draft progress report for {result.meeting_code} ready",
            body=(
                f"The draft progress report on joint activities for {result.meeting_title} "
                f"(as of {result.as_of.isoformat()}: {result.activities} activities, "
                f"{result.overdue} overdue) is ready for review before the document deadline "
                f"{self._deadline.isoformat()}. "
                + " ".join(f"{fmt.upper()}: {href}" for fmt, href in links.items())
            ),
            conventions=result.conventions,
            audiences=(Audience.COORDINATORS,),
            due_on=self._deadline,
            link=link,
            data={"meeting": result.meeting_code, "as_of": result.as_of.isoformat(), **links},
        )
        await sending.announce(event)


# --- starting and re-timing ---------------------------------------------------------------------


async def ensure_report_workflow(
    client: Client, meeting: Meeting, settings: Settings, *, task_queue: str | None = None
) -> str:
    """Start the meeting's draft workflow, or tell the running one its (possibly moved) deadline."""
    workflow_id = report_workflow_id(meeting.code)
    deadline = meeting.document_deadline
    await client.start_workflow(
        ReportDraftWorkflow.run,
        ReportDraftInput(
            meeting_id=meeting.id,
            meeting_code=meeting.code,
            deadline=deadline,
            days_before=settings.report_draft_days_before_deadline,
        ),
        id=workflow_id,
        task_queue=task_queue or settings.temporal_task_queue,
        start_signal="reschedule",
        start_signal_args=[deadline],
    )
    return workflow_id


async def ensure_report_workflows(
    client: Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    today: date | None = None,
    task_queue: str | None = None,
) -> list[str]:
    """One draft workflow per upcoming meeting whose document deadline has not passed.

    Idempotent: run it at start-up, daily, and whenever a meeting's dates change.
    """
    today = today or datetime.now(UTC).date()
    async with sessionmaker() as session:
        meetings: Sequence[Meeting] = list(
            await session.scalars(
                select(Meeting).where(Meeting.starts_on >= today).order_by(Meeting.starts_on)
            )
        )
    started = []
    for meeting in meetings:
        if meeting.document_deadline < today:
            continue
        started.append(await ensure_report_workflow(client, meeting, settings, task_queue=task_queue))
    return started


__all__ = [
    "DRAFT_FORMATS",
    "DraftReportRequest",
    "DraftResult",
    "REPORT_WORKFLOW",
    "ReportActivities",
    "ReportDraftInput",
    "ReportDraftStatus",
    "ReportDraftWorkflow",
    "StoredDraft",
    "ensure_report_workflow",
    "ensure_report_workflows",
    "report_workflow_id",
    "stored_report_key",
]
