"""Task teams: coordinators manage them; a team's thematic group must really be one."""

from __future__ import annotations

from sqlalchemy import select

from core.stages import Role
from models import Body, BodyKind
from tests.api_support import etag, walk
from tests.conftest import People

COORDINATOR = Role.COORDINATOR


async def _body_id(db, kind: BodyKind) -> int:  # type: ignore[no-untyped-def]
    async with db() as session:
        return int(await session.scalar(select(Body.id).where(Body.kind == kind).limit(1)))


async def test_task_team_round_trip(client, people: People, reference_data) -> None:
    headers = people.headers(COORDINATOR)
    group_id = await _body_id(reference_data, BodyKind.THEMATIC_GROUP)
    lead = people[Role.TASK_TEAM_LEAD].id
    team = {
        "name": "Joint e-waste team",
        "thematic_group_id": group_id,
        "lead_id": lead,
        "starts_on": "2026-01-01",
        "ends_on": "2026-06-30",
        "members": [lead, people[Role.COORDINATOR].id],
    }
    created = await client.post("/task-teams", json=team, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["members"] == sorted(team["members"]) and body["lead_id"] == lead

    url = f"/task-teams/{body['id']}"
    read = await client.get(url, headers=people.headers(Role.OVERSIGHT))
    assert read.json() == body
    patched = await client.patch(
        url, json={"ends_on": "2026-09-30", "lead_id": None}, headers={**headers, "If-Match": etag(read)}
    )
    assert patched.status_code == 200
    assert patched.json()["ends_on"] == "2026-09-30" and patched.json()["lead_id"] is None

    assert [t["id"] for t in await walk(client, "/task-teams", headers, thematic_group=group_id)] == [
        body["id"]
    ]
    assert await walk(client, "/task-teams", headers, lead=lead) == []
    assert (await client.delete(url, headers={**headers, "If-Match": 'W/"1"'})).status_code == 412
    assert (await client.delete(url, headers=headers)).status_code == 204


async def test_bad_task_team_input(client, people: People, reference_data) -> None:
    headers = people.headers(COORDINATOR)
    centre = await _body_id(reference_data, BodyKind.REGIONAL_CENTRE)
    cases = [
        ({"name": "T", "thematic_group_id": centre}, "thematic_group_id"),
        ({"name": "T", "thematic_group_id": 777777}, "thematic_group_id"),
        ({"name": "T", "lead_id": 777777}, "lead_id"),
        ({"name": "T", "members": [777777]}, "members"),
        ({"name": "T", "starts_on": "2026-02-01", "ends_on": "2026-01-01"}, "ends_on"),
        ({"name": ""}, "name"),
    ]
    for payload, field in cases:
        response = await client.post("/task-teams", json=payload, headers=headers)
        assert response.status_code == 422, (payload, response.text)
        assert field in response.json()["detail"]
    assert (
        await client.post("/task-teams", json={"name": "T"}, headers=people.headers(Role.TASK_TEAM_LEAD))
    ).status_code == 403
