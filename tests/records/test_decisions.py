"""Decisions: admins manage them with the element codes of the provisions they adopted."""

from __future__ import annotations

from core.stages import Role
from tests.api_support import etag, walk
from tests.conftest import People

ADMIN = Role.ADMIN
DECISION = {
    "symbol": "BC-17/1",
    "convention_code": "basel",
    "title": "Synergies follow-up",
    "adopted_at": "BC COP-17",
    "adopted_on": "2027-05-14",
    "provisions": ["BRS/SYN/I.A.4", "BRS/SYN/I.B.10"],
}


async def test_decision_round_trip(client, people: People, reference_data) -> None:
    headers = people.headers(ADMIN)
    created = await client.post("/decisions", json=DECISION, headers=headers)
    assert created.status_code == 201, created.text
    decision = created.json()
    assert decision["provisions"] == ["BRS/SYN/I.A.4", "BRS/SYN/I.B.10"]

    url = f"/decisions/{decision['id']}"
    read = await client.get(url, headers=people.headers(Role.OVERSIGHT))
    assert read.json() == decision and etag(read) == 'W/"1"'
    patched = await client.patch(
        url, json={"provisions": ["BRS/SYN/I.C.17"]}, headers={**headers, "If-Match": etag(read)}
    )
    assert patched.status_code == 200 and patched.json()["provisions"] == ["BRS/SYN/I.C.17"]

    provision = (await client.get("/provisions", params={"q": "BRS/SYN/I.C.17"}, headers=headers)).json()[
        "items"
    ][0]
    assert "BC-17/1" in provision["decisions"]

    assert (await client.delete(url, headers={**headers, "If-Match": etag(patched)})).status_code == 204
    assert (await client.get(url, headers=headers)).status_code == 404


async def test_decision_filters_and_sort(client, people: People, reference_data) -> None:
    headers = people.headers(Role.COORDINATOR)
    basel = await walk(client, "/decisions", headers, convention="basel", limit=2)
    assert basel and {d["convention_code"] for d in basel} == {"basel"}
    symbols = [d["symbol"] for d in await walk(client, "/decisions", headers, limit=3)]
    assert symbols == sorted(symbols)
    adopting = await walk(client, "/decisions", headers, provision="BRS/SYN/I.A.4")
    assert {d["symbol"] for d in adopting} >= {"IX/10", "RC-4/11", "SC-4/34"}
    assert all("BRS/SYN/I.A.4" in d["provisions"] for d in adopting)


async def test_bad_decision_input(client, people: People, reference_data) -> None:
    headers = people.headers(ADMIN)
    unknown = await client.post("/decisions", json={**DECISION, "provisions": ["NOPE/1"]}, headers=headers)
    assert unknown.status_code == 422 and "NOPE/1" in unknown.json()["detail"]
    assert unknown.json()["field"] == "provisions"
    bad_convention = await client.post(
        "/decisions", json={**DECISION, "convention_code": "ospar"}, headers=headers
    )
    assert bad_convention.status_code == 422
    assert "convention_code" in bad_convention.json()["detail"]
    duplicate = await client.post("/decisions", json={**DECISION, "symbol": "IX/10"}, headers=headers)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate"
    forbidden = await client.post("/decisions", json=DECISION, headers=people.headers(Role.COORDINATOR))
    assert forbidden.status_code == 403
