"""People: admins add, change and remove them; everyone can look them up."""

from __future__ import annotations

from core.stages import Role
from tests.activity_support import add_activity
from tests.api_support import etag, walk
from tests.conftest import People

ADMIN = Role.ADMIN


async def test_person_round_trip(client, people: People, db) -> None:
    headers = people.headers(ADMIN)
    created = await client.post(
        "/people",
        headers=headers,
        json={
            "name": "Ana Lead",
            "email": "Ana.Lead@Example.org",
            "role": "task_team_lead",
            "secretariat": "BRS",
        },
    )
    assert created.status_code == 201, created.text
    person = created.json()
    assert person["email"] == "ana.lead@example.org" and person["active"] is True

    url = f"/people/{person['id']}"
    read = await client.get(url, headers=people.headers(Role.OVERSIGHT))
    assert read.json() == person and etag(read) == 'W/"1"'
    patched = await client.patch(
        url, json={"active": False, "role": "coordinator"}, headers={**headers, "If-Match": etag(read)}
    )
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert (await client.delete(url, headers=headers)).status_code == 204


async def test_people_filters(client, people: People, db) -> None:
    headers = people.headers(Role.COORDINATOR)
    everyone = await walk(client, "/people", headers, limit=2)
    assert len(everyone) == len(Role)
    names = [p["name"] for p in everyone]
    assert names == sorted(names)
    leads = await walk(client, "/people", headers, role="task_team_lead")
    assert [p["id"] for p in leads] == [people[Role.TASK_TEAM_LEAD].id]
    assert [p["role"] for p in await walk(client, "/people", headers, q="ADMIN")] == ["admin"]
    assert await walk(client, "/people", headers, active="false") == []


async def test_bad_person_input_and_referenced_people(client, people: People, db) -> None:
    headers = people.headers(ADMIN)
    taken = people[Role.COORDINATOR].email.upper()
    duplicate = await client.post(
        "/people", headers=headers, json={"name": "X", "email": taken, "role": "admin"}
    )
    assert duplicate.status_code == 409
    bad = await client.post(
        "/people", headers=headers, json={"name": "X", "email": "not-an-email", "role": "king"}
    )
    assert bad.status_code == 422
    assert "email" in bad.json()["detail"] and "role" in bad.json()["detail"]
    lead = people[Role.TASK_TEAM_LEAD]
    await add_activity(db, conventions=(), lead_id=lead.id)
    in_use = await client.delete(f"/people/{lead.id}", headers=headers)
    assert in_use.status_code == 409 and in_use.json()["code"] == "still_referenced"
    assert (
        await client.post(
            "/people",
            headers=people.headers(Role.COORDINATOR),
            json={"name": "X", "email": "x@example.org", "role": "admin"},
        )
    ).status_code == 403
