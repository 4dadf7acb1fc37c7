"""Action entries ('actions taken or to be taken'): CRUD, the lead rule, filters and references."""

from __future__ import annotations

from sqlalchemy import select

from core.stages import Role
from models import Provision
from tests.activity_support import add_activity
from tests.api_support import etag, walk
from tests.conftest import People


async def test_action_round_trip_sorted_by_date_and_filtered_by_kind(
    client, people: People, reference_data
) -> None:
    lead = people[Role.TASK_TEAM_LEAD]
    headers = people.headers(Role.TASK_TEAM_LEAD)
    activity_id = (await add_activity(reference_data, lead_id=lead.id)).id
    async with reference_data() as session:
        provision_id = await session.scalar(
            select(Provision.id).where(Provision.element_code == "BRS/SYN/I.A.4")
        )
    url = f"/activities/{activity_id}/actions"
    entries = [
        {"kind": "planned", "on_date": "2026-09-01", "text": "Joint workshop"},
        {"kind": "taken", "on_date": "2026-03-01", "text": "Survey sent", "provision_id": provision_id},
        {"kind": "taken", "on_date": "2026-05-01", "text": "Survey analysed"},
    ]
    for entry in entries:
        response = await client.post(url, json=entry, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["author_id"] == lead.id

    listed = await walk(client, url, people.headers(Role.OVERSIGHT), limit=2)
    assert [item["text"] for item in listed] == ["Survey sent", "Survey analysed", "Joint workshop"]
    taken = await walk(client, url, headers, kind="taken")
    assert {item["kind"] for item in taken} == {"taken"} and len(taken) == 2
    newest_first = await walk(client, url, headers, sort="-on_date")
    assert newest_first[0]["text"] == "Joint workshop"

    action_url = f"/actions/{listed[0]['id']}"
    read = await client.get(action_url, headers=headers)
    assert read.json()["provision_id"] == provision_id
    done = await client.patch(
        action_url, json={"text": "Survey sent to 180 Parties"}, headers={**headers, "If-Match": etag(read)}
    )
    assert done.status_code == 200 and etag(done) == 'W/"2"'
    assert (await client.delete(action_url, headers={**headers, "If-Match": etag(read)})).status_code == 412
    assert (await client.delete(action_url, headers=headers)).status_code == 204


async def test_actions_obey_the_lead_rule(client, people: People, db) -> None:
    other = await people.add(db, Role.TASK_TEAM_LEAD, "Someone Else")
    activity_id = (await add_activity(db, conventions=(), lead_id=other.id)).id
    entry = {"kind": "taken", "on_date": "2026-01-15", "text": "Done"}
    url = f"/activities/{activity_id}/actions"
    assert (
        await client.post(url, json=entry, headers=people.headers(Role.TASK_TEAM_LEAD))
    ).status_code == 403
    created = await client.post(url, json=entry, headers=people.headers(Role.COORDINATOR))
    assert created.status_code == 201
    action_url = f"/actions/{created.json()['id']}"
    assert (
        await client.patch(action_url, json={"text": "x"}, headers=people.headers(Role.TASK_TEAM_LEAD))
    ).status_code == 403
    assert (
        await client.patch(action_url, json={"text": "x"}, headers=people.headers(Role.OVERSIGHT))
    ).status_code == 403


async def test_bad_action_input_names_the_field(client, people: People, db) -> None:
    headers = people.headers(Role.COORDINATOR)
    activity_id = (await add_activity(db, conventions=())).id
    url = f"/activities/{activity_id}/actions"
    cases = [
        ({"kind": "maybe", "on_date": "2026-01-01", "text": "x"}, "kind"),
        ({"kind": "taken", "on_date": "2026-13-01", "text": "x"}, "on_date"),
        ({"kind": "taken", "on_date": "2026-01-01", "text": ""}, "text"),
        ({"kind": "taken", "on_date": "2026-01-01", "text": "x", "provision_id": 424242}, "provision_id"),
        ({"kind": "taken", "on_date": "2026-01-01", "text": "x", "provision_id": "first"}, "provision_id"),
    ]
    for payload, field in cases:
        response = await client.post(url, json=payload, headers=headers)
        assert response.status_code == 422, (payload, response.text)
        assert field in response.json()["detail"]
    assert (await client.get("/actions/999999", headers=headers)).status_code == 404
    bad_sort = await client.get(url, params={"sort": "text"}, headers=headers)
    assert bad_sort.status_code == 422 and "on_date" in bad_sort.json()["detail"]
