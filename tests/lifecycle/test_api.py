"""Moving activities through the API against a real dev server, worker, database and SMTP server."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.stages import Role
from models import Meeting, MeetingKind, Notification, PilotProject, Transition
from tests.lifecycle_support import create, fire_reminder, move, patch
from tests.servers_support import wait_for

pytestmark = pytest.mark.usefixtures("lifecycle_worker")


async def test_created_activity_cites_provisions_and_derives_conventions(client, people, team_and_meeting):
    activity = await create(client, people)
    assert activity["stage"] == "thematic_group"
    assert activity["conventions"] == ["basel", "rotterdam", "stockholm"]
    assert activity["provisions"][0]["element_code"] == "BRS/SYN/I.A.4"
    assert activity["stage_due_on"] == str(date.today() + timedelta(days=90))
    log = (
        await client.get(f"/activities/{activity['id']}/transitions", headers=people.headers(Role.OVERSIGHT))
    ).json()["items"]
    assert [(t["seq"], t["from_stage"], t["to_stage"]) for t in log] == [(1, None, "thematic_group")]


async def test_moving_through_every_stage_records_and_notifies(client, people, team_and_meeting, smtp, db):
    activity = await create(client, people)
    allowed = (
        await client.get(
            f"/activities/{activity['id']}/transitions/allowed", headers=people.headers(Role.COORDINATOR)
        )
    ).json()["items"]
    task_team = next(option for option in allowed if option["to"] == "task_team")
    assert not task_team["allowed"] and "task team with a lead" in task_team["blocked_by"][0]

    activity = await patch(
        client,
        people,
        activity,
        task_team_id=team_and_meeting["team_id"],
        target_meeting_id=team_and_meeting["meeting_id"],
    )
    response = await move(client, people, activity, "task_team")
    assert response.status_code == 200, response.text
    activity = response.json()["activity"]
    assert response.json()["transition"]["actor_id"] == people[Role.COORDINATOR].id
    got = (await client.get(f"/activities/{activity['id']}", headers=people.headers(Role.OVERSIGHT))).json()
    assert got["stage"] == "task_team" and got["version"] == activity["version"]

    async with db() as session, session.begin():
        session.add(
            PilotProject(
                activity_id=activity["id"],
                title="Asia pilot",
                region="Asia-Pacific",
                countries=["TH", "VN"],
                lessons_learned="Involve centres early",
            )
        )
    activity = (await move(client, people, activity, "pilot_project")).json()["activity"]
    activity = (await move(client, people, activity, "report_to_cop")).json()["activity"]
    assert activity["stage_due_on"] == str(team_and_meeting["deadline"])
    refused = await move(client, people, activity, "closed")
    assert refused.status_code == 422 and "meeting" in refused.json()["detail"]
    async with db() as session, session.begin():
        opens_on = date.today() + timedelta(days=30)
        future = Meeting(
            code="BC-99", kind=MeetingKind.COP, number=99, title="A COP to come", venue="Geneva",
            starts_on=opens_on, ends_on=opens_on + timedelta(days=5),
        )  # fmt: skip
        session.add(future)
    not_yet = await move(client, people, activity, "closed", meeting_id=future.id)
    assert not_yet.status_code == 422 and not_yet.json()["code"] == "meeting_not_open", not_yet.text
    response = await move(client, people, activity, "closed", meeting_id=team_and_meeting["meeting_id"])
    assert response.status_code == 200, response.text
    assert response.json()["activity"]["closed_at_meeting_id"] == team_and_meeting["meeting_id"]

    lead_email = people[Role.TASK_TEAM_LEAD].email
    await wait_for(lambda: smtp.recipients().count(lead_email) == 4)
    assert "coordinators@brs.example.org" in smtp.recipients()
    async with db() as session:
        feed = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.person_id == people[Role.TASK_TEAM_LEAD].id,
                Notification.event_type == "transition",
            )
        )
    assert feed == 4
    notifications = (
        await client.get("/me/notifications", headers=people.headers(Role.TASK_TEAM_LEAD))
    ).json()
    assert len(notifications["items"]) == 4


async def test_forbidden_and_illegal_moves_change_nothing(client, people, team_and_meeting, db):
    activity = await create(client, people)
    for role in (Role.TASK_TEAM_LEAD, Role.OVERSIGHT):
        assert (await move(client, people, activity, "task_team", role=role)).status_code == 403
    illegal = await move(client, people, activity, "report_to_cop")
    assert illegal.status_code == 422 and "allowed from thematic_group" in illegal.json()["detail"]
    no_reason = await move(client, people, activity, "withdrawn")
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    single = await create(client, people, conventions=["basel"])
    blocked = await move(client, people, single, "withdrawn", reason="merged into a joint one")
    assert blocked.status_code == 200
    async with db() as session:
        count = await session.scalar(
            select(func.count()).select_from(Transition).where(Transition.activity_id == activity["id"])
        )
    assert count == 1


async def test_concurrent_conflicting_moves_exactly_one_wins(client, people, team_and_meeting):
    activity = await create(client, people)
    responses = await asyncio.gather(
        *(move(client, people, activity, "withdrawn", reason=f"attempt {n}") for n in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1 and set(statuses) == {200, 409}, statuses
    log = (
        await client.get(
            f"/activities/{activity['id']}/transitions", headers=people.headers(Role.COORDINATOR)
        )
    ).json()["items"]
    assert [t["seq"] for t in log] == [1, 2]


async def test_retried_request_with_idempotency_key_moves_once(client, people, team_and_meeting):
    activity = await create(client, people)
    key = {"Idempotency-Key": "withdraw-once-123"}
    first = await move(client, people, activity, "withdrawn", reason="duplicate", headers=key)
    second = await move(client, people, activity, "withdrawn", reason="duplicate", headers=key)
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["transition"]["id"] == second.json()["transition"]["id"]
    log = (
        await client.get(
            f"/activities/{activity['id']}/transitions", headers=people.headers(Role.COORDINATOR)
        )
    ).json()["items"]
    assert len(log) == 2


async def test_stale_versions_are_refused(client, people, team_and_meeting):
    activity = await create(client, people)
    updated = await patch(client, people, activity, description="now with a description")
    current = {"current_version": updated["version"], "current_etag": f'W/"{updated["version"]}"'}
    # A stale expected_version in the body: 409, with the current version to retry from.
    stale_move = await move(client, people, activity, "withdrawn", reason="x")
    assert stale_move.status_code == 409 and stale_move.json()["code"] == "stale_version"
    assert current.items() <= stale_move.json().items()
    # A failed If-Match precondition: 412, with the same.
    stale_patch = await client.patch(
        f"/activities/{activity['id']}",
        json={"title": "Another"},
        headers=people.headers(Role.COORDINATOR) | {"If-Match": 'W/"1"'},
    )
    assert stale_patch.status_code == 412 and stale_patch.json()["code"] == "stale_version"
    assert current.items() <= stale_patch.json().items()
    assert updated["version"] == activity["version"] + 1


async def test_meeting_moving_reschedules_report_due_dates(client, people, team_and_meeting, db):
    activity = await create(client, people, conventions=["basel", "stockholm"])
    activity = await patch(
        client,
        people,
        activity,
        task_team_id=team_and_meeting["team_id"],
        target_meeting_id=team_and_meeting["meeting_id"],
    )
    activity = (await move(client, people, activity, "task_team")).json()["activity"]
    activity = (await move(client, people, activity, "report_to_cop", reason="no pilot needed")).json()[
        "activity"
    ]
    meeting = await client.get(
        f"/meetings/{team_and_meeting['meeting_id']}", headers=people.headers(Role.ADMIN)
    )
    new_start = date.fromisoformat(meeting.json()["starts_on"]) + timedelta(days=14)
    response = await client.patch(
        f"/meetings/{team_and_meeting['meeting_id']}",
        json={"starts_on": str(new_start), "ends_on": str(new_start + timedelta(days=4))},
        headers=people.headers(Role.ADMIN),
    )
    assert response.status_code == 200, response.text
    got = (await client.get(f"/activities/{activity['id']}", headers=people.headers(Role.OVERSIGHT))).json()
    assert got["stage_due_on"] == str(new_start - timedelta(weeks=6))


async def test_bulk_moves_answer_per_item(client, people, team_and_meeting):
    first = await create(client, people)
    second = await create(client, people)
    response = await client.post(
        "/transitions/bulk",
        headers=people.headers(Role.COORDINATOR),
        json={
            "items": [
                {
                    "activity_id": first["id"],
                    "to": "withdrawn",
                    "reason": "merged",
                    "expected_version": first["version"],
                },
                {"activity_id": second["id"], "to": "closed", "expected_version": second["version"]},
                {"activity_id": 999999, "to": "withdrawn", "reason": "x", "expected_version": 1},
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert [item["status"] for item in response.json()] == [200, 422, 404]


async def test_lead_snoozes_and_acknowledges_own_activity_only(client, people, team_and_meeting, db):
    activity = await create(client, people)
    until = str(date.today() + timedelta(days=10))
    lead = people.headers(Role.TASK_TEAM_LEAD)
    response = await client.post(
        f"/activities/{activity['id']}/reminders/snooze",
        json={"until": until, "note": "on mission"},
        headers=lead,
    )
    assert response.status_code == 200, response.text
    reminders = (await client.get(f"/activities/{activity['id']}/reminders", headers=lead)).json()["items"]
    assert reminders[-1]["snoozed_until"] == until and reminders[-1]["note"] == "on mission"
    other = await create(client, people, lead_id=people[Role.COORDINATOR].id)
    refused = await client.post(f"/activities/{other['id']}/reminders/acknowledge", json={}, headers=lead)
    assert refused.status_code == 403
    past = await client.post(
        f"/activities/{activity['id']}/reminders/snooze", json={"until": "2001-01-01"}, headers=lead
    )
    assert past.status_code == 422


async def test_temporal_unreachable_answers_503_and_changes_nothing(
    app, client, people, team_and_meeting, db
):
    activity = await create(client, people)
    from temporalio.client import Client

    app.state.temporal = None
    app.state.connect_temporal = lambda: Client.connect("127.0.0.1:1")
    response = await move(client, people, activity, "withdrawn", reason="engine down")
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    created = await client.post(
        "/activities",
        headers=people.headers(Role.COORDINATOR),
        json={"title": "Never half-created", "provisions": ["BRS/SYN/I.A.4"]},
    )
    assert created.status_code == 503
    listed = (await client.get("/activities?q=half-created", headers=people.headers(Role.COORDINATOR))).json()
    assert listed["items"] == []
    log = (
        await client.get(
            f"/activities/{activity['id']}/transitions", headers=people.headers(Role.COORDINATOR)
        )
    ).json()["items"]
    assert len(log) == 1


async def test_a_meeting_moved_while_temporal_is_down_is_re_timed_by_check_repair(
    app, client, people, team_and_meeting, db, settings, temporal_env
):
    from temporalio.client import Client

    from workflows.consistency import DriftKind, check_all

    activity = await create(client, people, conventions=["basel", "stockholm"])
    activity = await patch(
        client,
        people,
        activity,
        task_team_id=team_and_meeting["team_id"],
        target_meeting_id=team_and_meeting["meeting_id"],
    )
    activity = (await move(client, people, activity, "task_team")).json()["activity"]
    activity = (await move(client, people, activity, "report_to_cop", reason="no pilot needed")).json()[
        "activity"
    ]
    app.state.temporal = None
    app.state.connect_temporal = lambda: Client.connect("127.0.0.1:1")
    new_start = date.fromisoformat(str(team_and_meeting["deadline"])) + timedelta(weeks=6, days=21)
    response = await client.patch(
        f"/meetings/{team_and_meeting['meeting_id']}",
        headers=people.headers(Role.ADMIN),
        json={"starts_on": str(new_start), "ends_on": str(new_start)},
    )
    assert response.status_code == 200, response.text
    stale = (await client.get(f"/activities/{activity['id']}", headers=people.headers(Role.OVERSIGHT))).json()
    assert stale["stage_due_on"] == str(team_and_meeting["deadline"])

    _, drifts = await check_all(temporal_env.client, db, settings, repair=True)
    assert [(d.activity_id, d.kind, d.repaired) for d in drifts] == [
        (activity["id"], DriftKind.DUE_DATE_BEHIND_MEETING, True)
    ]
    fixed = (await client.get(f"/activities/{activity['id']}", headers=people.headers(Role.OVERSIGHT))).json()
    assert fixed["stage_due_on"] == str(new_start - timedelta(weeks=6))
    _, after = await check_all(temporal_env.client, db, settings)
    assert after == []


async def test_text_with_nul_characters_is_refused_before_reaching_the_database(
    client, people, team_and_meeting
):
    activity = await create(client, people)
    for path, body in (
        (f"/activities/{activity['id']}/reminders/acknowledge", {"note": "a\x00b"}),
        ("/activities", {"title": "Nul\x00title", "provisions": ["BRS/SYN/I.A.4"]}),
    ):
        response = await client.post(path, json=body, headers=people.headers(Role.COORDINATOR))
        assert response.status_code == 422, response.text
        assert "NUL" in response.json()["detail"]


async def test_an_edit_may_leave_out_required_fields_but_not_null_them(client, people, team_and_meeting):
    activity = await create(client, people)
    for field in ("title", "description", "provisions", "conventions", "watcher_ids"):
        response = await client.patch(
            f"/activities/{activity['id']}",
            json={field: None},
            headers=people.headers(Role.COORDINATOR) | {"If-Match": f'W/"{activity["version"]}"'},
        )
        assert response.status_code == 422, (field, response.text)
    updated = await patch(client, people, activity, description="kept title")
    assert updated["title"] == activity["title"] and updated["description"] == "kept title"


async def test_acknowledging_answers_the_pending_reminder_and_nothing_else(
    client, people, team_and_meeting, db
):
    activity = await create(client, people)
    lead = people.headers(Role.TASK_TEAM_LEAD)
    url = f"/activities/{activity['id']}/reminders/acknowledge"
    nothing = await client.post(url, json={}, headers=lead)
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_acknowledge"
    assert (await client.get(f"/activities/{activity['id']}/reminders", headers=lead)).json()["items"] == []

    await fire_reminder(db, activity["id"], "thematic_group")
    acknowledged = await client.post(url, json={"note": "on it"}, headers=lead)
    assert acknowledged.status_code == 200, acknowledged.text
    [reminder] = (await client.get(f"/activities/{activity['id']}/reminders", headers=lead)).json()["items"]
    assert reminder["acknowledged_by_id"] == people[Role.TASK_TEAM_LEAD].id and reminder["note"] == "on it"
    again = await client.post(url, json={}, headers=lead)
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_acknowledge"
