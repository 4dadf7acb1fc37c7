"""Pilot projects: coordinators record them anywhere, a task team lead only on work they lead."""

from __future__ import annotations

from core.stages import Role
from models import TaskTeam
from tests.activity_support import add_activity
from tests.api_support import etag, walk
from tests.conftest import People

PILOT = {
    "title": "E-waste pilot",
    "region": "Africa",
    "countries": ["GH", "NG"],
    "partners": ["BCRC Nigeria"],
    "starts_on": "2026-01-01",
    "ends_on": "2026-12-31",
}


async def test_pilot_round_trip_with_if_match(client, people: People, db) -> None:
    coordinator = people.headers(Role.COORDINATOR)
    activity_id = (await add_activity(db, conventions=())).id
    created = await client.post(f"/activities/{activity_id}/pilot-projects", json=PILOT, headers=coordinator)
    assert created.status_code == 201, created.text
    pilot = created.json()
    assert pilot["activity_id"] == activity_id and pilot["countries"] == ["GH", "NG"]

    url = f"/pilot-projects/{pilot['id']}"
    read = await client.get(url, headers=people.headers(Role.OVERSIGHT))
    assert read.json() == pilot and etag(read) == 'W/"1"'

    patched = await client.patch(
        url, json={"lessons_learned": "Start with customs."}, headers={**coordinator, "If-Match": etag(read)}
    )
    assert patched.status_code == 200 and patched.json()["lessons_learned"] == "Start with customs."
    stale = await client.patch(url, json={"region": "Asia"}, headers={**coordinator, "If-Match": etag(read)})
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version"

    listed = await walk(client, f"/activities/{activity_id}/pilot-projects", people.headers(Role.OVERSIGHT))
    assert [item["id"] for item in listed] == [pilot["id"]]

    assert (await client.delete(url, headers={**coordinator, "If-Match": etag(patched)})).status_code == 204
    assert (await client.get(url, headers=coordinator)).status_code == 404


async def test_task_team_lead_writes_only_on_activities_they_lead(client, people: People, db) -> None:
    lead = people[Role.TASK_TEAM_LEAD]
    other_lead = await people.add(db, Role.TASK_TEAM_LEAD, "Other Lead")
    headers = people.headers(Role.TASK_TEAM_LEAD)
    async with db() as session, session.begin():
        team = TaskTeam(name="Their team", lead_id=lead.id)
        session.add(team)
        await session.flush()
        team_id = team.id
    own = (await add_activity(db, conventions=(), lead_id=lead.id)).id
    via_team = (await add_activity(db, conventions=(), lead_id=other_lead.id, task_team_id=team_id)).id
    foreign = (await add_activity(db, conventions=(), lead_id=other_lead.id)).id

    for activity_id in (own, via_team):
        response = await client.post(f"/activities/{activity_id}/pilot-projects", json=PILOT, headers=headers)
        assert response.status_code == 201, response.text
    refused = await client.post(f"/activities/{foreign}/pilot-projects", json=PILOT, headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"

    foreign_pilot = (
        await client.post(
            f"/activities/{foreign}/pilot-projects", json=PILOT, headers=people.headers(Role.COORDINATOR)
        )
    ).json()
    url = f"/pilot-projects/{foreign_pilot['id']}"
    assert (await client.patch(url, json={"region": "Asia"}, headers=headers)).status_code == 403
    assert (await client.delete(url, headers=headers)).status_code == 403
    assert (await client.get(url, headers=headers)).status_code == 200  # reading is open to all
    oversight = await client.post(
        f"/activities/{own}/pilot-projects", json=PILOT, headers=people.headers(Role.OVERSIGHT)
    )
    assert oversight.status_code == 403


async def test_bad_pilot_input_is_a_problem(client, people: People, db) -> None:
    headers = people.headers(Role.COORDINATOR)
    activity_id = (await add_activity(db, conventions=())).id
    url = f"/activities/{activity_id}/pilot-projects"
    backwards = await client.post(url, json={**PILOT, "ends_on": "2025-01-01"}, headers=headers)
    assert backwards.status_code == 422 and "ends_on" in backwards.json()["detail"]
    wrong_type = await client.post(url, json={**PILOT, "countries": "GH"}, headers=headers)
    assert wrong_type.status_code == 422 and "countries" in wrong_type.json()["detail"]
    unknown = await client.post(url, json={**PILOT, "countries": ["GH", "Atlantis"]}, headers=headers)
    assert unknown.status_code == 422 and "Atlantis" in unknown.json()["detail"]
    assert "countries.1" in unknown.json()["detail"]
    named = await client.post(
        url, json={**PILOT, "countries": ["Côte d'Ivoire", "sen", "Viet Nam"]}, headers=headers
    )
    assert named.status_code == 201 and named.json()["countries"] == ["CI", "SN", "VN"]
    missing = await client.post("/activities/999999/pilot-projects", json=PILOT, headers=headers)
    assert missing.status_code == 404

    pilot = (await client.post(url, json=PILOT, headers=headers)).json()
    half = await client.patch(
        f"/pilot-projects/{pilot['id']}", json={"starts_on": "2027-06-01"}, headers=headers
    )
    assert half.status_code == 422 and "ends_on" in half.json()["detail"]
    null_title = await client.patch(f"/pilot-projects/{pilot['id']}", json={"title": None}, headers=headers)
    assert null_title.status_code == 422
    cleared = await client.patch(f"/pilot-projects/{pilot['id']}", json={"region": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["region"] is None
