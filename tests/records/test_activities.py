"""Reading activities: the representation, filters, sorting and cursor pagination."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from api.routes.activities import today
from core.stages import Role, Stage
from models import Body, BodyKind
from tests.activity_support import add_activity
from tests.api_support import etag, walk, walk_back
from tests.conftest import People

READER = Role.OVERSIGHT


async def _thematic_group(db) -> int:  # type: ignore[no-untyped-def]
    async with db() as session:
        return int(
            await session.scalar(
                select(Body.id).where(Body.kind == BodyKind.THEMATIC_GROUP).order_by(Body.id).limit(1)
            )
        )


async def test_activity_representation_and_etag(client, people: People, reference_data, settings) -> None:
    lead = people[Role.TASK_TEAM_LEAD].id
    activity_id = (
        await add_activity(
            reference_data,
            title="Joint clearing-house",
            conventions=("stockholm", "basel"),
            provisions=("BRS/SYN/I.A.4",),
            lead_id=lead,
            stage=Stage.TASK_TEAM,
            stage_due_on=today() - timedelta(days=1),
        )
    ).id
    response = await client.get(f"/activities/{activity_id}", headers=people.headers(READER))
    assert response.status_code == 200
    assert etag(response) == 'W/"1"'
    body = response.json()
    assert body["conventions"] == ["basel", "stockholm"]
    assert body["provisions"][0]["element_code"] == "BRS/SYN/I.A.4"
    assert "IX/10" in body["provisions"][0]["citation"]
    assert body["overdue"] is True
    assert body["lead_id"] == lead and body["watchers"] == []
    assert body["workflow_id"] == settings.workflow_id(activity_id)
    assert set(body) >= {
        "id",
        "title",
        "description",
        "stage",
        "stage_entered_at",
        "stage_due_on",
        "overdue",
        "thematic_group_id",
        "task_team_id",
        "lead_id",
        "target_meeting_id",
        "closed_at_meeting_id",
        "single_convention_reason",
        "conventions",
        "provisions",
        "watchers",
        "version",
        "workflow_id",
        "created_at",
        "updated_at",
    }

    missing = await client.get("/activities/999999", headers=people.headers(READER))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_closed_activity_past_due_is_not_overdue(client, people: People, db) -> None:
    activity_id = (
        await add_activity(db, conventions=(), stage=Stage.CLOSED, stage_due_on=date(2000, 1, 1))
    ).id
    body = (await client.get(f"/activities/{activity_id}", headers=people.headers(READER))).json()
    assert body["overdue"] is False


async def test_activity_filters(client, people: People, reference_data) -> None:
    lead = people[Role.TASK_TEAM_LEAD].id
    group = await _thematic_group(reference_data)
    late = (
        await add_activity(
            reference_data,
            title="Harmonised REPORTING formats",
            conventions=("basel", "rotterdam"),
            stage=Stage.TASK_TEAM,
            stage_due_on=today() - timedelta(days=3),
            lead_id=lead,
        )
    ).id
    on_time = (
        await add_activity(
            reference_data,
            title="Regional centres",
            description="Joint use of 100% of centres",
            conventions=("stockholm", "minamata"),
            provisions=("BRS/SYN/I.A.4",),
            stage_due_on=today() + timedelta(days=30),
            thematic_group_id=group,
        )
    ).id
    closed = (
        await add_activity(
            reference_data, title="Old work", stage=Stage.CLOSED, stage_due_on=date(2001, 1, 1)
        )
    ).id

    async def ids(**params: object) -> set[int]:
        response = await client.get("/activities", params=params, headers=people.headers(READER))
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await ids() == {late, on_time, closed}
    assert await ids(stage="task_team") == {late}
    assert await ids(stage=["task_team", "closed"]) == {late, closed}
    assert await ids(convention="minamata") == {on_time}
    assert await ids(thematic_group=group) == {on_time}
    assert await ids(lead=lead) == {late}
    assert await ids(overdue="true") == {late}
    assert await ids(overdue="false") == {on_time, closed}
    assert await ids(provision="BRS/SYN/I.A.4") == {on_time}
    assert await ids(q="reporting") == {late}  # any case
    assert await ids(q="100%") == {on_time}  # wildcards are literal
    assert await ids(q="_") == set()
    assert await ids(q="centres", convention="stockholm", overdue="false") == {on_time}

    bad_stage = await client.get("/activities", params={"stage": "limbo"}, headers=people.headers(READER))
    assert bad_stage.status_code == 422 and "stage" in bad_stage.json()["detail"]


@pytest.mark.parametrize(
    "sort",
    [
        "id",
        "-id",
        "title",
        "-title",
        "stage_due_on",
        "-stage_due_on",
        "stage",
        "-stage_entered_at",
        "created_at",
        "-updated_at",
    ],
)
async def test_walking_every_page_yields_each_activity_once_in_order(
    client, people: People, db, sort: str
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(23):
        await add_activity(
            db,
            conventions=(),
            title=f"Activity {n % 5}",  # repeated titles test the tie-break
            stage=list(Stage)[n % 6],
            stage_due_on=None if n % 4 == 0 else date(2026, 1, 1) + timedelta(days=n % 7),
            stage_entered_at=base + timedelta(hours=n % 3),
        )
    items = await walk(client, "/activities", people.headers(READER), sort=sort, limit=4)
    assert len(items) == 23 and len({item["id"] for item in items}) == 23

    field = sort.lstrip("-")
    present = [item for item in items if item[field] is not None]
    absent = [item for item in items if item[field] is None]
    assert items == present + absent  # NULLs last in both directions
    keys = [(item[field], item["id"]) for item in present]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
    assert await walk_back(client, "/activities", people.headers(READER), sort=sort, limit=4) == items


async def test_pages_link_to_each_other_and_count_only_when_asked(
    client, people: People, reference_data
) -> None:
    headers, db = people.headers(READER), reference_data
    for n in range(7):
        await add_activity(db, conventions=("basel",), title=f"Workshop {n}", stage=Stage.TASK_TEAM)
    await add_activity(db, conventions=("minamata",), title="Not listed", stage=Stage.TASK_TEAM)
    query = {"convention": "basel", "sort": "-title", "limit": 3}
    first = await client.get("/activities", headers=headers, params=query)
    body = first.json()
    assert body["total"] is None and body["prev_cursor"] is None and body["next_cursor"]
    assert first.headers["link"] == (
        "<http://testserver/activities?convention=basel&sort=-title&limit=3"
        f'&cursor={body["next_cursor"]}>; rel="next"'
    )
    second = await client.get(first.headers["link"][1:].split(">")[0], headers=headers)
    middle = second.json()
    assert [i["title"] for i in middle["items"]] == ["Workshop 3", "Workshop 2", "Workshop 1"]
    links = dict(
        (part.split("; ")[1], part.split("; ")[0].strip("<>")) for part in second.headers["link"].split(", ")
    )
    assert links == {
        'rel="next"': "http://testserver/activities?convention=basel&sort=-title&limit=3"
        f"&cursor={middle['next_cursor']}",
        'rel="prev"': "http://testserver/activities?convention=basel&sort=-title&limit=3"
        f"&cursor={middle['prev_cursor']}",
    }
    back = (await client.get(links['rel="prev"'], headers=headers)).json()
    assert back["items"] == body["items"] and back["prev_cursor"] is None

    counted = await client.get("/activities", headers=headers, params={**query, "count": "true"})
    assert counted.json()["total"] == 7 and counted.json()["items"] == body["items"]
    last = await client.get(
        "/activities", headers=headers, params={**query, "cursor": middle["next_cursor"], "count": "true"}
    )
    assert [i["title"] for i in last.json()["items"]] == ["Workshop 0"] and last.json()["total"] == 7
    assert last.json()["next_cursor"] is None and 'rel="next"' not in last.headers["link"]
    whole = await client.get("/activities", headers=headers, params={"convention": "minamata"})
    assert "link" not in whole.headers and whole.json()["next_cursor"] is None


async def test_a_page_does_not_shift_when_rows_are_added_before_the_cursor(
    client, people: People, db
) -> None:
    for n in range(6):
        await add_activity(db, conventions=(), title=f"B{n}")
    first = (
        await client.get("/activities", params={"sort": "title", "limit": 3}, headers=people.headers(READER))
    ).json()
    await add_activity(db, conventions=(), title="A-new")  # sorts before the cursor
    second = (
        await client.get(
            "/activities",
            params={"sort": "title", "limit": 3, "cursor": first["next_cursor"]},
            headers=people.headers(READER),
        )
    ).json()
    assert [i["title"] for i in first["items"] + second["items"]] == [f"B{n}" for n in range(6)]
    assert second["next_cursor"] is None


async def test_bad_sort_cursor_and_limit_are_problems_not_500s(client, people: People, db) -> None:
    headers = people.headers(READER)
    for n in range(3):
        await add_activity(db, conventions=(), title=f"T{n}")

    bad_sort = await client.get("/activities", params={"sort": "-secret"}, headers=headers)
    assert bad_sort.status_code == 422
    assert bad_sort.json()["code"] == "invalid_sort"
    assert "title" in bad_sort.json()["detail"] and "stage_due_on" in bad_sort.json()["allowed"]

    def encoded(payload: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()

    for cursor in [
        "not-base64!!",
        "eyJ",
        encoded([1, 2]),
        encoded({"s": "id", "v": 1}),
        encoded({"s": "id", "v": "one", "t": 1}),
        encoded({"s": "id", "v": 1, "t": []}),
        encoded({"s": "stage_due_on", "v": "yesterday", "t": 1}),
        encoded({"s": "id", "v": 1, "t": 1, "d": "sideways"}),
        "☃",
    ]:
        response = await client.get("/activities", params={"cursor": cursor, "sort": "id"}, headers=headers)
        assert response.status_code == 400, (cursor, response.text)
        assert response.json()["code"] == "invalid_cursor"

    page = (await client.get("/activities", params={"limit": 1, "sort": "title"}, headers=headers)).json()
    other_sort = await client.get(
        "/activities", headers=headers, params={"cursor": page["next_cursor"], "sort": "-title"}
    )
    assert other_sort.status_code == 400 and "sort" in other_sort.json()["detail"]

    for limit in (0, 201, "many"):
        response = await client.get("/activities", params={"limit": limit}, headers=headers)
        assert response.status_code == 422 and "limit" in response.json()["detail"]
