"""The live feeds: server-sent events over a real socket, and the iCalendar feed."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select

from api.deps import SESSION_COOKIE
from core.settings import Settings
from core.stages import Role
from models import ApiToken, Meeting, MeetingKind, Person
from services.tokens import hash_token, issue_token, revoke_token
from services.transitions import TransitionRecord, record_transition
from services.web_auth import open_session, revoke_session
from tests.conftest import People
from tests.oversight.dashboard_data import PP, TT, DashboardData
from tests.process_support import LiveServer


async def read_events(lines: AsyncIterator[str], count: int, within: float = 15) -> list[dict[str, Any]]:
    """Parse `count` SSE events (id, event, data) from the line iterator."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}

    async def collect() -> None:
        nonlocal current
        async for line in lines:
            if not line:
                if "data" in current:
                    events.append(current)
                    if len(events) == count:
                        return
                current = {}
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                current[name] = value.removeprefix(" ")

    await asyncio.wait_for(collect(), within)
    return events


async def move_a2_to_pilot(db, dashboard_data: DashboardData) -> None:
    async with db() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(
                activity_id=dashboard_data["a2"],
                seq=3,
                from_stage=TT,
                to_stage=PP,
                actor_id=dashboard_data.actor_id,
                at=datetime.now(UTC),
            ),
        )


async def test_a_transition_recorded_while_reading_the_stream_arrives_as_an_event(
    server: LiveServer, dashboard_data: DashboardData, people: People, db
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        async with http.stream("GET", "/events/stream", headers=people.headers(Role.OVERSIGHT)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert await asyncio.wait_for(anext(lines), 10) == ": connected"
            await move_a2_to_pilot(db, dashboard_data)
            [event] = await read_events(lines, 1)
    assert event["event"] == "transition"
    payload = json.loads(event["data"])
    assert payload["activity_id"] == dashboard_data["a2"]
    assert (payload["from_stage"], payload["to_stage"]) == ("task_team", "pilot_project")
    assert payload["activity_title"] == "Customs training"
    assert payload["actor_name"] == "Test Coordinator"
    assert event["id"] == str(payload["id"])


async def test_the_stream_resumes_after_last_event_id(
    server: LiveServer, dashboard_data: DashboardData, people: People
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        page = (await http.get("/events", headers=people.headers(Role.OVERSIGHT))).json()
        ids = [item["id"] for item in page["items"]]
        headers = {**people.headers(Role.OVERSIGHT), "Last-Event-ID": str(ids[5])}
        async with http.stream("GET", "/events/stream", headers=headers) as response:
            events = await read_events(response.aiter_lines(), 3)
    assert [int(e["id"]) for e in events] == ids[6:9]


async def test_the_stream_needs_a_valid_token(server: LiveServer, dashboard_data: DashboardData) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/events/stream")).status_code == 401
        refused = await http.get("/events/stream", headers={"Authorization": "Bearer syn_not-a-token"})
        assert refused.status_code == 401


async def test_the_stream_refuses_a_token_in_the_query_string(
    server: LiveServer, dashboard_data: DashboardData, people: People
) -> None:
    """A URL lands in server logs and browser history: a valid token there is not a credential."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        refused = await http.get("/events/stream", params={"token": people.tokens[Role.OVERSIGHT]})
    assert refused.status_code == 401


async def test_the_web_app_s_session_cookie_opens_the_stream_until_the_session_is_revoked(
    server: LiveServer, dashboard_data: DashboardData, people: People, db, settings: Settings
) -> None:
    from api.routes.events import AUTH_RECHECK_SECONDS

    row_id, secret = await web_session(db, people[Role.TASK_TEAM_LEAD], settings)
    cookies = {SESSION_COOKIE: secret}
    async with httpx.AsyncClient(base_url=server.url, timeout=30, cookies=cookies) as http:
        async with http.stream("GET", "/events/stream") as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert await asyncio.wait_for(anext(lines), 10) == ": connected"
            await move_a2_to_pilot(db, dashboard_data)
            [event] = await read_events(lines, 1)
            assert event["event"] == "transition"
            async with db() as session, session.begin():
                assert await revoke_session(session, row_id, person_id=None)
            [last] = await read_events(lines, 1, within=AUTH_RECHECK_SECONDS + 10)
            rest = await asyncio.wait_for(_drain(lines), 5)
        assert last["event"] == "unauthorized" and rest == []
        assert (await http.get("/events/stream")).status_code == 401


async def test_open_streams_end_when_clients_leave_and_when_the_server_stops(
    server: LiveServer, dashboard_data: DashboardData, people: People, db
) -> None:
    headers = people.headers(Role.OVERSIGHT)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        async with http.stream("GET", "/events/stream", headers=headers) as left:
            await asyncio.wait_for(anext(left.aiter_lines()), 10)
        # The server keeps serving (and writing) after a client left mid-stream.
        await move_a2_to_pilot(db, dashboard_data)
        assert (await http.get("/health")).status_code == 200
        async with http.stream("GET", "/events/stream", headers=headers) as staying:
            lines = staying.aiter_lines()
            await asyncio.wait_for(anext(lines), 10)
            loop = asyncio.get_running_loop()
            started = loop.time()
            exit_code = await server.stop(within=10)
            rest = [line async for line in lines]  # the stream ends instead of hanging
    # uvicorn re-raises the SIGTERM it handled once it has shut down, hence -SIGTERM.
    assert exit_code in (0, -signal.SIGTERM), server.output()
    assert "Traceback" not in server.output()
    assert loop.time() - started < 8, "shutdown waited for the graceful timeout"
    assert all(line == "" or line.startswith((":", "retry:")) for line in rest), rest


# --- the calendar -------------------------------------------------------------------------------


async def alice_token(db, dashboard_data: DashboardData) -> str:
    async with db() as session, session.begin():
        alice = await session.get(Person, dashboard_data.alice_id)
        assert alice is not None
        _, token = await issue_token(session, alice, name="calendar")
    return token


async def test_calendar_feed_has_the_lead_s_due_dates_and_the_meetings(
    client, dashboard_data: DashboardData, db
) -> None:
    today = datetime.now(UTC).date()
    async with db() as session, session.begin():
        session.add(
            Meeting(
                code="COP-NEXT",
                kind=MeetingKind.COP,
                number=9,
                title="Next COP",
                venue="Geneva",
                starts_on=today + timedelta(days=60),
                ends_on=today + timedelta(days=71),
            )
        )
    token = await alice_token(db, dashboard_data)
    response = await client.get("/me/calendar.ics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}

    # Alice leads A1 (report_to_cop, due 23 Mar), A2 (task_team, due 1 Feb), A4 (TG, due 15 Feb).
    due = {
        uid: (e.decoded("DTSTART"), e.decoded("DTEND"), str(e["SUMMARY"]))
        for uid, e in events.items()
        if uid.startswith("activity-")
    }
    assert due == {
        f"activity-{dashboard_data['a1']}-report_to_cop-due@testserver": (
            date(2026, 3, 23),
            date(2026, 3, 24),
            "Due: Joint clearing house (report to cop)",
        ),
        f"activity-{dashboard_data['a2']}-task_team-due@testserver": (
            date(2026, 2, 1),
            date(2026, 2, 2),
            "Due: Customs training (task team)",
        ),
        f"activity-{dashboard_data['a4']}-thematic_group-due@testserver": (
            date(2026, 2, 15),
            date(2026, 2, 16),
            "Due: Mercury inventory (thematic group)",
        ),
    }
    assert all(
        isinstance(start, date) and not isinstance(start, datetime) for start, _, _ in due.values()
    )  # all-day events

    next_cop = [e for e in events.values() if str(e["SUMMARY"]) == "Next COP"]
    assert len(next_cop) == 1
    assert next_cop[0].decoded("DTSTART") == today + timedelta(days=60)
    assert next_cop[0].decoded("DTEND") == today + timedelta(days=72)  # ends_on inclusive
    deadline = [e for e in events.values() if str(e["SUMMARY"]) == "Document deadline: Next COP"]
    assert deadline[0].decoded("DTSTART") == today + timedelta(days=60) - timedelta(weeks=6)

    again = await client.get("/me/calendar.ics", headers={"Authorization": f"Bearer {token}"})
    again_calendar = Calendar.from_ical(again.content)
    assert {str(e["UID"]) for e in again_calendar.walk("VEVENT")} == set(events)  # stable UIDs


async def test_calendar_accepts_a_bearer_header_and_refuses_strangers(
    client, dashboard_data: DashboardData, people: People
) -> None:
    mine = await client.get("/me/calendar.ics", headers=people.headers(Role.COORDINATOR))
    assert mine.status_code == 200
    assert not [
        e for e in Calendar.from_ical(mine.content).walk("VEVENT") if str(e["UID"]).startswith("activity-")
    ]  # the coordinator leads nothing
    assert (await client.get("/me/calendar.ics")).status_code == 401
    nope = await client.get("/me/calendar.ics", headers={"Authorization": "Bearer syn_nope"})
    assert nope.status_code == 401


async def test_calendar_refuses_a_token_in_the_query_string_and_accepts_the_session_cookie(
    client, dashboard_data: DashboardData, db, settings: Settings
) -> None:
    """Calendar programs use the secret feed (`/calendar/{secret}.ics`); an API token in the URL
    would land in logs and histories, so it is refused even when valid."""
    token = await alice_token(db, dashboard_data)
    assert (await client.get("/me/calendar.ics", params={"token": token})).status_code == 401
    async with db() as session:
        alice = await session.get_one(Person, dashboard_data.alice_id)
    _, secret = await web_session(db, alice, settings)
    client.cookies.set(SESSION_COOKIE, secret)
    mine = await client.get("/me/calendar.ics")
    assert mine.status_code == 200
    uids = {str(e["UID"]) for e in Calendar.from_ical(mine.content).walk("VEVENT")}
    assert f"activity-{dashboard_data['a2']}-task_team-due@testserver" in uids


@pytest.mark.parametrize("how", ["token revoked", "person deactivated"])
async def test_an_open_stream_ends_when_its_token_is_revoked_or_its_person_deactivated(
    server: LiveServer, people: People, db, how: str
) -> None:
    from api.routes.events import AUTH_RECHECK_SECONDS

    token = people.tokens[Role.OVERSIGHT]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        async with http.stream("GET", "/events/stream", headers=people.headers(Role.OVERSIGHT)) as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert await asyncio.wait_for(anext(lines), 10) == ": connected"
            async with db() as session, session.begin():
                if how == "token revoked":
                    row = await session.scalar(
                        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
                    )
                    assert await revoke_token(session, row.id)
                else:
                    person = await session.get_one(Person, people[Role.OVERSIGHT].id)
                    person.active = False
            started = asyncio.get_running_loop().time()
            [last] = await read_events(lines, 1, within=AUTH_RECHECK_SECONDS + 10)
            rest = await asyncio.wait_for(_drain(lines), 5)
            ended_after = asyncio.get_running_loop().time() - started
    assert last["event"] == "unauthorized" and rest == []
    assert ended_after < AUTH_RECHECK_SECONDS + 5
    again = await http_get(server, "/events/stream", token)
    assert again == 401


async def _drain(lines: AsyncIterator[str]) -> list[str]:
    return [line for line in [line async for line in lines] if line and not line.startswith(":")]


async def http_get(server: LiveServer, path: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        return (await http.get(path, headers={"Authorization": f"Bearer {token}"})).status_code


async def web_session(db, person: Person, settings: Settings) -> tuple[int, str]:
    """A signed-in browser's session for `person`: its id and the cookie's secret."""
    async with db() as session, session.begin():
        row, secret = await open_session(session, person, settings, user_agent="test")
    return row.id, secret
