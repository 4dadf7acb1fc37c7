"""Bodies and /thematic-groups (the same rows, kind fixed): admin-managed reference data."""

from __future__ import annotations

from core.stages import Role
from tests.activity_support import add_activity
from tests.api_support import etag, walk
from tests.conftest import People

ADMIN = Role.ADMIN
GROUP = {"code": "tg-waste-data", "name": "Thematic group on waste data", "mandate": "Data"}


async def test_thematic_group_round_trip(client, people: People, db) -> None:
    headers = people.headers(ADMIN)
    member = people[Role.TASK_TEAM_LEAD].id
    created = await client.post("/thematic-groups", json={**GROUP, "members": [member]}, headers=headers)
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["kind"] == "thematic_group" and group["members"] == [member]

    url = f"/thematic-groups/{group['id']}"
    read = await client.get(url, headers=people.headers(Role.OVERSIGHT))
    assert read.json() == group and etag(read) == 'W/"1"'
    assert (await client.get(f"/bodies/{group['id']}", headers=headers)).json() == group

    patched = await client.patch(
        url, json={"members": [], "city": "Geneva"}, headers={**headers, "If-Match": etag(read)}
    )
    assert patched.status_code == 200 and patched.json()["members"] == []
    stale = await client.patch(url, json={"city": "Bonn"}, headers={**headers, "If-Match": etag(read)})
    assert stale.status_code == 412
    assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).status_code == 404


async def test_thematic_group_paths_only_show_thematic_groups(client, people: People, reference_data) -> None:
    headers = people.headers(Role.COORDINATOR)
    groups = await walk(client, "/thematic-groups", headers, limit=3)
    assert groups and {g["kind"] for g in groups} == {"thematic_group"}
    bodies = await walk(client, "/bodies", headers, limit=5)
    assert len(bodies) > len(groups)
    centre = next(b for b in bodies if b["kind"] == "regional_centre")
    assert (await client.get(f"/thematic-groups/{centre['id']}", headers=headers)).status_code == 404
    centres = await walk(client, "/bodies", headers, kind="regional_centre")
    assert {b["id"] for b in centres} == {b["id"] for b in bodies if b["kind"] == "regional_centre"}
    by_name = await walk(client, "/bodies", headers, sort="-name")
    assert [b["name"] for b in by_name] == sorted((b["name"] for b in bodies), reverse=True)


async def test_bad_body_input(client, people: People, db) -> None:
    headers = people.headers(ADMIN)
    assert (await client.post("/thematic-groups", json=GROUP, headers=headers)).status_code == 201
    duplicate = await client.post("/bodies", json={**GROUP, "kind": "regional_centre"}, headers=headers)
    assert duplicate.status_code == 409 and "tg-waste-data" in duplicate.json()["detail"]
    unknown_member = await client.post(
        "/thematic-groups", json={**GROUP, "code": "tg-2", "members": [123456]}, headers=headers
    )
    assert unknown_member.status_code == 422 and "members" in unknown_member.json()["detail"]
    bad_email = await client.post(
        "/thematic-groups", json={**GROUP, "code": "tg-3", "email": "nobody"}, headers=headers
    )
    assert bad_email.status_code == 422 and "email" in bad_email.json()["detail"]
    kind_on_group = await client.post(
        "/thematic-groups",
        json={**GROUP, "code": "tg-4", "kind": "regional_centre"},
        headers=headers,
    )
    assert kind_on_group.status_code == 422 and "kind" in kind_on_group.json()["detail"]
    assert (
        await client.post("/bodies", json=GROUP, headers=people.headers(Role.COORDINATOR))
    ).status_code == 403


async def test_a_group_that_activities_belong_to_cannot_be_deleted(client, people: People, db) -> None:
    headers = people.headers(ADMIN)
    group = (await client.post("/thematic-groups", json=GROUP, headers=headers)).json()
    await add_activity(db, conventions=(), thematic_group_id=group["id"])
    refused = await client.delete(f"/thematic-groups/{group['id']}", headers=headers)
    assert refused.status_code == 409 and refused.json()["code"] == "still_referenced"
    assert (await client.get(f"/thematic-groups/{group['id']}", headers=headers)).status_code == 200
