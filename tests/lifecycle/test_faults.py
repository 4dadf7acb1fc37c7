"""In-process faults: the SMTP server or the database goes away. Real servers, nothing mocked.

(Process kills and Temporal restarts are tested elsewhere.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.settings import Settings
from core.stages import Role
from core.supervisor import free_port
from models import Activity, Channel, Delivery, DeliveryStatus, Transition
from models.db import create_engine, session_factory
from tests.lifecycle_support import create, move
from tests.servers_support import wait_for


def unreachable_postgres_url() -> str:
    """A PostgreSQL URL on a local port nothing listens on (connection refused at once)."""
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


# --- SMTP down ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("lifecycle_worker")
async def test_mail_waits_for_the_smtp_server_and_is_sent_once(client, people, team_and_meeting, smtp, db):
    activity = await create(client, people)
    smtp.stop()
    response = await move(client, people, activity, "withdrawn", reason="merged into another")
    assert response.status_code == 200, response.text  # the move does not wait for the mail

    async def email_deliveries() -> list[Delivery]:
        async with db() as session:
            return list(
                await session.scalars(
                    select(Delivery).where(Delivery.channel == Channel.EMAIL, Delivery.key.contains("/t2"))
                )
            )

    async def all_retrying() -> bool:
        rows = await email_deliveries()
        return bool(rows) and all(d.status is DeliveryStatus.RETRYING and d.attempts > 0 for d in rows)

    await wait_for(all_retrying, seconds=20)
    assert smtp.mails == []
    assert not any(d.status is DeliveryStatus.SENT for d in await email_deliveries())

    smtp.start()  # the same port: the next retry (DELIVERY_RETRY_POLICY, 5 s doubling) gets through

    async def all_sent() -> bool:
        rows = await email_deliveries()
        return bool(rows) and all(d.status is DeliveryStatus.SENT for d in rows)

    await wait_for(all_sent, seconds=40)
    rows = await email_deliveries()
    await asyncio.sleep(1)  # nothing more arrives
    received = Counter(rcpt for mail in smtp.mails for rcpt in mail.rcpt_tos)
    assert received == Counter(d.target for d in rows), (received, [d.target for d in rows])
    assert all(count == 1 for count in received.values())
    assert people[Role.TASK_TEAM_LEAD].email in received
    assert all(d.attempts >= 2 for d in rows)


# --- database down ------------------------------------------------------------------------------


async def test_api_answers_503_when_the_database_is_unreachable(settings: Settings, db, people):
    from api.main import create_app

    down = create_app(settings.model_copy(update={"database_url": unreachable_postgres_url()}))
    transport = httpx.ASGITransport(app=down)
    async with (
        down.router.lifespan_context(down),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        headers = people.headers(Role.COORDINATOR)
        for method, url, body in (
            ("GET", "/activities", None),
            ("GET", "/conventions", None),
            ("POST", "/activities", {"title": "x", "provisions": ["BRS/SYN/I.A.4"]}),
            ("PATCH", "/meetings/1", {"venue": "Geneva"}),
        ):
            response = await http.request(method, url, json=body, headers=headers)
            problem = assert_problem(response, 503)
            assert "unreachable" in problem["detail"] and "nothing was changed" in problem["detail"]


@pytest.mark.usefixtures("lifecycle_worker")
async def test_a_move_whose_db_write_cannot_reach_the_database_is_503_and_records_nothing(
    client,
    people,
    team_and_meeting,
    db,
    settings,
    temporal_env,
    app,
):
    """A second worker, on its own task queue, whose activities write to a dead PostgreSQL; the
    activity's workflow is started on that queue, so the move's DB write retries and gives up."""
    import uuid

    from workflows.commands import start_workflow
    from workflows.worker import build_worker

    activity = await create(client, people)
    dead_queue = f"dead-db-{uuid.uuid4().hex}"
    dead_settings = settings.model_copy(update={"temporal_task_queue": dead_queue})
    handle = app.state.temporal.get_workflow_handle(settings.workflow_id(activity["id"]))
    await handle.terminate("moved to a worker whose database is down")
    async with db() as session:
        row = await session.get_one(Activity, activity["id"])
    await start_workflow(app.state.temporal, dead_settings, row)

    engine = create_engine(unreachable_postgres_url())
    try:
        async with (
            httpx.AsyncClient() as http,
            build_worker(temporal_env.client, dead_settings, session_factory(engine), http),
        ):
            response = await move(client, people, activity, "withdrawn", reason="merged")
    finally:
        await engine.dispose()
    problem = assert_problem(response, 503)
    assert problem["code"] == "database_unavailable"
    async with db() as session:
        count = await session.scalar(
            select(func.count()).select_from(Transition).where(Transition.activity_id == activity["id"])
        )
        row = await session.get_one(Activity, activity["id"])
    assert count == 1 and row.stage == "thematic_group" and row.version == activity["version"]
