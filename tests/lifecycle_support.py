"""Helpers for lifecycle tests: the rows around an activity (task team, meeting, pilot, reminder),
a worker, `synergies check`, and the lifecycle through the API (create, move, patch)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from core.settings import Settings
from core.stages import Role
from models import Meeting, MeetingKind, PilotProject, ReminderEvent, TaskTeam, utcnow


async def add_task_team(sessionmaker, lead_id: int, ends_on: date) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session, session.begin():
        team = TaskTeam(name="Task team", lead_id=lead_id, ends_on=ends_on)
        session.add(team)
        await session.flush()
        return team.id


async def add_pilot(sessionmaker, activity_id: int, *, lessons: str | None = None) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session, session.begin():
        session.add(
            PilotProject(
                activity_id=activity_id,
                title="Pilot",
                region="Africa",
                countries=["ZA", "KE"],
                lessons_learned=lessons,
            )
        )


async def add_meeting(sessionmaker, starts_on: date, code: str = "SC-COP5") -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session, session.begin():
        meeting = Meeting(
            code=code,
            kind=MeetingKind.COP,
            number=5,
            title=code,
            venue="Geneva",
            starts_on=starts_on,
            ends_on=starts_on,
        )
        session.add(meeting)
        await session.flush()
        return meeting.id


async def add_team_and_meeting(reference_data, people) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """A task team led by the task-team lead, and the SC-COP5 meeting to move towards."""
    from datetime import timedelta

    from core.stages import Role

    async with reference_data() as session, session.begin():
        team = TaskTeam(
            name="Synergies workshops",
            lead_id=people[Role.TASK_TEAM_LEAD].id,
            ends_on=date.today() + timedelta(days=200),
        )
        session.add(team)
        meeting = await session.scalar(select(Meeting).where(Meeting.code == "SC-COP5"))
        await session.flush()
        return {"team_id": team.id, "meeting_id": meeting.id, "deadline": meeting.document_deadline}


@asynccontextmanager
async def running_worker(
    client: Client,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Worker]:
    import httpx

    from workflows.worker import build_worker

    async with httpx.AsyncClient() as http:
        async with build_worker(client, settings, sessionmaker, http) as worker:
            yield worker


async def synergies_check(
    database_url: str, settings: Settings, client: Client, *args: str
) -> tuple[int, str]:
    """`synergies check` as a user runs it: its own process, against this test's database and
    Temporal; returns the exit code and the output."""
    env = os.environ | {
        "DATABASE_URL": database_url,
        "SYNERGIES_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "SYNERGIES_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SYNERGIES_WORKFLOW_ID_PREFIX": settings.workflow_id_prefix,
        "SYNERGIES_TEMPORAL_SEARCH_ATTRIBUTES": str(settings.temporal_search_attributes).lower(),
    }
    return await synergies_check_in(env, *args)


async def synergies_check_in(env: dict[str, str], *args: str) -> tuple[int, str]:
    """`synergies check` with a whole environment (a process cluster's, say)."""
    process = await asyncio.create_subprocess_exec(
        os.path.join(os.path.dirname(sys.executable), "synergies"),
        "check",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def fire_reminder(sessionmaker: async_sessionmaker[AsyncSession], activity_id: int, stage: str) -> None:
    """A reminder row as the workflow's `record_reminder` writes it when one fires (without waiting
    days for its timer): what an acknowledgement answers."""
    async with sessionmaker() as session, session.begin():
        session.add(
            ReminderEvent(
                key=f"test/{activity_id}/{stage}/due",
                activity_id=activity_id,
                stage=stage,
                kind="due+0",
                due_on=date.today(),
                fired_at=utcnow(),
            )
        )


# --- the lifecycle through the API (a test client and the `people` fixture) ---


async def create(client, people, **fields):
    body = {
        "title": "Regional synergies workshop, Asia",
        "provisions": ["BRS/SYN/I.A.4"],
        "lead_id": people[Role.TASK_TEAM_LEAD].id,
    } | fields
    response = await client.post("/activities", json=body, headers=people.headers(Role.COORDINATOR))
    assert response.status_code == 201, response.text
    return response.json()


async def move(client, people, activity, to, *, role=Role.COORDINATOR, headers=None, **extra):
    body = {"to": to, "expected_version": activity["version"]} | extra
    return await client.post(
        f"/activities/{activity['id']}/transitions", json=body, headers=people.headers(role) | (headers or {})
    )


async def patch(client, people, activity, **fields):
    response = await client.patch(
        f"/activities/{activity['id']}",
        json=fields,
        headers=people.headers(Role.COORDINATOR) | {"If-Match": f'W/"{activity["version"]}"'},
    )
    assert response.status_code == 200, response.text
    return response.json()
