"""The report draft workflow on the time-skipping server: a draft at the right simulated date."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from core.events import Audience, EventType
from models import Meeting, Notification, StoredReport
from tests.reports.report_data import build_report_data
from workflows.reports import (
    DRAFT_HOUR_UTC,
    ReportActivities,
    ReportDraftWorkflow,
    ensure_report_workflows,
    report_workflow_id,
)
from workflows.worker import build_worker


async def _drafted(handle: Any) -> bool:
    return (await handle.query(ReportDraftWorkflow.status)).drafted_as_of is not None


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    """Wait (real time) for activities started by a fired timer to finish."""
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def _mailed(smtp: Any) -> bool:
    return bool(smtp.recipients())


async def _announcements(db: Any) -> list[Notification]:
    async with db() as session:
        return list(
            await session.scalars(
                select(Notification).where(Notification.event_type == EventType.REPORT_READY.value)
            )
        )


async def _meeting_opening_on(db: Any, meeting_id: int, starts_on: date) -> date:
    """Move the meeting to `starts_on`; returns its document deadline (six weeks before)."""
    async with db() as session, session.begin():
        await session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(starts_on=starts_on, ends_on=starts_on + timedelta(days=4))
        )
    async with db() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        return meeting.document_deadline


async def _stored(db: Any) -> list[StoredReport]:
    async with db() as session:
        return list(await session.scalars(select(StoredReport).order_by(StoredReport.format)))


@asynccontextmanager
async def _worker(env: Any, task_queue: str, db: Any, settings: Any) -> AsyncIterator[Any]:
    async with (
        httpx.AsyncClient() as http,
        build_worker(env.client, settings, db, http, task_queue=task_queue) as worker,
    ):
        yield worker


async def test_draft_is_stored_and_announced_two_weeks_before_the_deadline(
    time_env, db, settings, task_queue, smtp
) -> None:
    data = await build_report_data(db)
    today = (await time_env.get_current_time()).date()
    deadline = await _meeting_opening_on(db, data.sc_cop5, today + timedelta(days=100))
    await _meeting_opening_on(db, data.mc_cop2, today - timedelta(days=10))  # past: no workflow

    async with _worker(time_env, task_queue, db, settings):
        started = await ensure_report_workflows(
            time_env.client, db, settings, today=today, task_queue=task_queue
        )
        assert started == [report_workflow_id("SC-COP5")]
        handle = time_env.client.get_workflow_handle_for(ReportDraftWorkflow.run, started[0])
        draft_on = deadline - timedelta(days=settings.report_draft_days_before_deadline)
        status = await handle.query(ReportDraftWorkflow.status)
        assert (status.deadline, status.draft_on, status.drafted_as_of) == (deadline, draft_on, None)

        # (handles from get_workflow_handle do not skip time on their own: env.sleep does)
        fire_at = datetime.combine(draft_on, time(DRAFT_HOUR_UTC), tzinfo=UTC)
        await time_env.sleep(fire_at - await time_env.get_current_time() - timedelta(hours=1))
        assert (await handle.query(ReportDraftWorkflow.status)).drafted_as_of is None
        assert await _stored(db) == []  # nothing an hour before the timer fires

        await time_env.sleep(timedelta(hours=2))
        await _until(lambda: _drafted(handle))
        assert (await time_env.get_current_time()).date() == draft_on
        assert len(await _stored(db)) == 2

        await time_env.sleep(timedelta(days=15))  # past the deadline: the workflow completes
        [result] = await handle.result()
        await _until(lambda: _mailed(smtp))  # the announcement goes out through the outbox

    assert result.as_of == draft_on
    stored = await _stored(db)
    assert [(s.format, s.as_of) for s in stored] == [("docx", draft_on), ("pdf", draft_on)]
    assert stored[1].content.startswith(b"%PDF")
    [announcement] = await _announcements(db)
    event = announcement.payload
    assert event["audiences"] == [Audience.COORDINATORS.value]
    docx = next(s for s in stored if s.format == "docx")
    assert event["link"] == f"http://testserver/reports/stored/{docx.id}"  # absolute, for mail clients
    assert event["data"]["as_of"] == draft_on.isoformat()
    assert event["due_on"] == deadline.isoformat()
    assert smtp.recipients() == [settings.coordinators_group_email]


async def test_moved_meeting_reschedules_the_draft(time_env, db, settings, task_queue, smtp) -> None:
    data = await build_report_data(db)
    today = (await time_env.get_current_time()).date()
    first_deadline = await _meeting_opening_on(db, data.sc_cop5, today + timedelta(days=90))

    async with _worker(time_env, task_queue, db, settings):
        [workflow_id] = await ensure_report_workflows(
            time_env.client, db, settings, today=today, task_queue=task_queue
        )
        # the COP is postponed by a month: running ensure again re-times the same workflow
        moved = await _meeting_opening_on(db, data.sc_cop5, today + timedelta(days=120))
        assert moved == first_deadline + timedelta(days=30)
        assert await ensure_report_workflows(
            time_env.client, db, settings, today=today, task_queue=task_queue
        ) == [workflow_id]
        handle = time_env.client.get_workflow_handle_for(ReportDraftWorkflow.run, workflow_id)
        assert (await handle.query(ReportDraftWorkflow.status)).deadline == moved
        # first draft date: today + 34 days; the new one: today + 64 days
        await time_env.sleep(timedelta(days=50))  # past the first draft date: nothing drafted
        assert await _stored(db) == []
        await time_env.sleep(timedelta(days=20))  # past the new draft date
        await _until(lambda: _drafted(handle))
        await time_env.sleep(timedelta(days=20))
        results = await handle.result()
        await _until(lambda: _mailed(smtp))

    assert [r.as_of for r in results] == [moved - timedelta(days=14)]
    assert {s.as_of for s in await _stored(db)} == {moved - timedelta(days=14)}
    assert len(await _announcements(db)) == 1


async def test_draft_activity_is_idempotent(db, settings) -> None:
    from workflows.reports import DraftReportRequest

    data = await build_report_data(db)
    activities = ReportActivities(db, settings)
    request = DraftReportRequest(meeting_id=data.sc_cop5, as_of=date(2010, 12, 31))
    first = await activities.draft_report(request)
    again = await activities.draft_report(request)
    assert first == again
    assert [d.format for d in first.drafts] == ["docx", "pdf"]
    assert first.activities == 2
    assert len(await _stored(db)) == 2
