"""Conventions are read-only reference data, listed by code."""

from __future__ import annotations

from core.stages import Role
from tests.api_support import walk
from tests.conftest import People


async def test_conventions_are_listed_and_read(client, people: People, reference_data) -> None:
    headers = people.headers(Role.TASK_TEAM_LEAD)
    codes = [c["code"] for c in await walk(client, "/conventions", headers, limit=3)]
    assert codes == ["basel", "minamata", "rotterdam", "stockholm"]
    by_acronym = await walk(client, "/conventions", headers, sort="-acronym")
    assert [c["acronym"] for c in by_acronym] == ["SC", "RC", "MC", "BC"]
    basel = await client.get("/conventions/basel", headers=headers)
    assert basel.status_code == 200 and basel.json()["acronym"] == "BC"
    assert (await client.get("/conventions/ospar", headers=headers)).status_code == 404
