"""Meetings over the API: CRUD, the computed document deadline, If-Match and the lifecycle hook."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.stages import Role
from models import Meeting
from tests.api_support import NEW_MEETING, etag
from tests.conftest import People

ADMIN = Role.ADMIN


class RecordingHooks:
    """Stands in for the lifecycle engineer's hooks; reads the meeting back from the database so
    the test proves the change was committed before the workflow is told."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.seen: list[tuple[int, date]] = []

    async def meeting_changed(self, meeting_id: int) -> None:
        async with self.sessionmaker() as session:
            meeting = await session.get_one(Meeting, meeting_id)
            self.seen.append((meeting_id, meeting.document_deadline))


async def test_meeting_round_trip_with_computed_deadline(client, people: People, reference_data) -> None:
    created = await client.post("/meetings", json=NEW_MEETING, headers=people.headers(ADMIN))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["document_deadline"] == "2027-03-22"  # six weeks before the opening
    assert body["conventions"] == ["basel"]

    read = await client.get(f"/meetings/{body['id']}", headers=people.headers(Role.OVERSIGHT))
    assert read.status_code == 200 and etag(read) == 'W/"1"'
    assert read.json() == body

    patched = await client.patch(
        f"/meetings/{body['id']}",
        headers={**people.headers(ADMIN), "If-Match": etag(read)},
        json={"document_deadline_override": "2027-03-01", "conventions": ["basel", "minamata"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["document_deadline"] == "2027-03-01"
    assert patched.json()["conventions"] == ["basel", "minamata"]
    assert etag(patched) == 'W/"2"'

    deleted = await client.delete(f"/meetings/{body['id']}", headers=people.headers(ADMIN))
    assert deleted.status_code == 204
    gone = await client.get(f"/meetings/{body['id']}", headers=people.headers(ADMIN))
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"


async def test_stale_if_match_is_refused_with_412(client, people: People, reference_data) -> None:
    created = (await client.post("/meetings", json=NEW_MEETING, headers=people.headers(ADMIN))).json()
    url = f"/meetings/{created['id']}"
    first = await client.patch(
        url, json={"venue": "Bonn"}, headers={**people.headers(ADMIN), "If-Match": 'W/"1"'}
    )
    assert first.status_code == 200
    stale = await client.patch(
        url, json={"venue": "Nairobi"}, headers={**people.headers(ADMIN), "If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_version"
    assert stale.headers["content-type"] == "application/problem+json"
    stale_delete = await client.delete(url, headers={**people.headers(ADMIN), "If-Match": '"1"'})
    assert stale_delete.status_code == 412
    assert (await client.get(url, headers=people.headers(ADMIN))).json()["venue"] == "Bonn"


async def test_creating_or_moving_a_meeting_tells_the_lifecycle_after_commit(
    app, client, people: People, reference_data
) -> None:
    hooks = app.state.lifecycle_hooks = RecordingHooks(reference_data)
    created = (await client.post("/meetings", json=NEW_MEETING, headers=people.headers(ADMIN))).json()
    url = f"/meetings/{created['id']}"
    announced_at_creation = [(created["id"], date.fromisoformat(created["document_deadline"]))]
    assert hooks.seen == announced_at_creation  # so its report draft gets scheduled

    await client.patch(url, json={"title": "Renamed"}, headers=people.headers(ADMIN))
    assert hooks.seen == announced_at_creation

    moved = await client.patch(
        url, json={"starts_on": "2027-06-07", "ends_on": "2027-06-18"}, headers=people.headers(ADMIN)
    )
    assert moved.status_code == 200
    assert hooks.seen == [*announced_at_creation, (created["id"], date(2027, 4, 26))]

    await client.patch(url, json={"document_deadline_override": "2027-04-01"}, headers=people.headers(ADMIN))
    assert hooks.seen[-1] == (created["id"], date(2027, 4, 1))


async def test_bad_meeting_input_is_a_problem_naming_the_field(
    client, people: People, reference_data
) -> None:
    headers = people.headers(ADMIN)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**NEW_MEETING, "conventions": ["basel", "atlantis"]}, 422, "atlantis"),
        ({**NEW_MEETING, "ends_on": "2027-05-01"}, 422, "ends_on"),
        ({**NEW_MEETING, "starts_on": "soon"}, 422, "starts_on"),
        ({**NEW_MEETING, "kind": "party"}, 422, "kind"),
        ({**NEW_MEETING, "colour": "blue"}, 422, "colour"),
    ]
    for payload, status, mentioned in cases:
        response = await client.post("/meetings", json=payload, headers=headers)
        assert response.status_code == status, (payload, response.text)
        assert mentioned in response.json()["detail"]

    assert (await client.post("/meetings", json=NEW_MEETING, headers=headers)).status_code == 201
    duplicate = await client.post("/meetings", json=NEW_MEETING, headers=headers)
    assert duplicate.status_code == 409 and "BC-17" in duplicate.json()["detail"]

    listed = (await client.get("/meetings", params={"q": "BC-17"}, headers=headers)).json()
    meeting_id = listed["items"][0]["id"]
    null_title = await client.patch(f"/meetings/{meeting_id}", json={"title": None}, headers=headers)
    assert null_title.status_code == 422 and "title" in null_title.json()["detail"]
    missing = await client.patch("/meetings/999999", json={"title": "x"}, headers=headers)
    assert missing.status_code == 404


async def test_meetings_filter_by_convention_and_kind(client, people: People, reference_data) -> None:
    headers = people.headers(Role.OVERSIGHT)
    minamata = (
        await client.get("/meetings", params={"convention": "minamata", "limit": 200}, headers=headers)
    ).json()["items"]
    assert minamata and all("minamata" in m["conventions"] for m in minamata)
    excops = (await client.get("/meetings", params={"kind": "excop", "limit": 200}, headers=headers)).json()[
        "items"
    ]
    assert excops and all(m["kind"] == "excop" for m in excops)
    starts = [m["starts_on"] for m in excops]
    assert starts == sorted(starts)
