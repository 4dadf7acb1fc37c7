"""Provisions: citation, decision symbols and conventions, filters and admin-only writes."""

from __future__ import annotations

from core.stages import Role
from tests.activity_support import add_activity
from tests.api_support import etag, walk
from tests.conftest import People

ADMIN = Role.ADMIN
PROVISION = {
    "element_code": "BRS/SYN/IX.Z.1",
    "section": "IX",
    "paragraph": "1",
    "subparagraph": "a",
    "text": "Requests the secretariats to report jointly.",
    "decisions": ["IX/10", "SC-4/34"],
}


async def test_provision_round_trip_with_citation(client, people: People, reference_data) -> None:
    headers = people.headers(ADMIN)
    created = await client.post("/provisions", json=PROVISION, headers=headers)
    assert created.status_code == 201, created.text
    provision = created.json()
    assert provision["citation"] == "IX/10, SC-4/34 section IX paragraph 1 (a)"
    assert provision["conventions"] == ["basel", "stockholm"]
    assert provision["decisions"] == ["IX/10", "SC-4/34"]
    assert provision["sort_key"] == "BRS/SYN/IX.Z.1" and provision["status"] == "active"

    url = f"/provisions/{provision['id']}"
    read = await client.get(url, headers=people.headers(Role.TASK_TEAM_LEAD))
    assert read.json() == provision
    patched = await client.patch(
        url,
        json={"status": "implemented", "decisions": ["RC-4/11"]},
        headers={**headers, "If-Match": etag(read)},
    )
    assert patched.status_code == 200
    assert patched.json()["citation"].startswith("RC-4/11 ")
    assert patched.json()["conventions"] == ["rotterdam"]
    assert (await client.delete(url, headers=headers)).status_code == 204


async def test_provision_filters(client, people: People, reference_data) -> None:
    headers = people.headers(Role.OVERSIGHT)
    everything = await walk(client, "/provisions", headers, limit=7)
    assert len(everything) == len({p["id"] for p in everything}) > 10
    keys = [p["sort_key"] for p in everything]
    assert keys == sorted(keys)

    minamata = await walk(client, "/provisions", headers, convention="minamata")
    assert minamata and all(p["conventions"] == ["minamata"] for p in minamata)
    by_decision = await walk(client, "/provisions", headers, decision="RC-4/11")
    assert by_decision and all("RC-4/11" in p["decisions"] for p in by_decision)
    section = await walk(client, "/provisions", headers, section="II")
    assert section and {p["section"] for p in section} == {"II"}
    active = await walk(client, "/provisions", headers, status="active")
    assert {p["status"] for p in active} == {"active"}
    clearing = await walk(client, "/provisions", headers, q="CLEARING-HOUSE")
    assert clearing and all(
        "clearing-house" in p["text"].lower() or "CHM" in p["element_code"] for p in clearing
    )
    bad_status = await client.get("/provisions", params={"status": "asleep"}, headers=headers)
    assert bad_status.status_code == 422


async def test_bad_provision_input(client, people: People, reference_data) -> None:
    headers = people.headers(ADMIN)
    duplicate = await client.post(
        "/provisions", json={**PROVISION, "element_code": "BRS/SYN/I.A.4"}, headers=headers
    )
    assert duplicate.status_code == 409 and "BRS/SYN/I.A.4" in duplicate.json()["detail"]
    unknown = await client.post("/provisions", json={**PROVISION, "decisions": ["XX-1/1"]}, headers=headers)
    assert unknown.status_code == 422 and "XX-1/1" in unknown.json()["detail"]
    orphan = await client.post("/provisions", json={**PROVISION, "parent_id": 987654}, headers=headers)
    assert orphan.status_code == 422 and "parent_id" in orphan.json()["detail"]


async def test_deleting_a_provision_unlinks_it_from_activities(
    client, people: People, reference_data
) -> None:
    """The link rows cascade; the activity itself stays."""
    headers = people.headers(ADMIN)
    created = (await client.post("/provisions", json=PROVISION, headers=headers)).json()
    activity_id = (await add_activity(reference_data, provisions=(PROVISION["element_code"],))).id
    deleted = await client.delete(f"/provisions/{created['id']}", headers=headers)
    assert deleted.status_code == 204
    activity = (await client.get(f"/activities/{activity_id}", headers=headers)).json()
    assert activity["provisions"] == []
