"""End to end through the API, the lifecycle workflow on a real dev server, and a real SMTP server:
what people receive after a move, and the one-click links of a reminder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from core.stages import Role
from models import ActionToken, Notification, Person
from services.notifications import create_action_links
from tests.lifecycle_support import create
from tests.servers_support import wait_for

pytestmark = pytest.mark.usefixtures("lifecycle_worker")


TITLE = "Regional synergies workshops"


async def test_a_move_mails_the_lead_and_coordinators_a_message_they_can_read(
    client, people, team_and_meeting, smtp, db, settings
) -> None:
    activity = await create(client, people, title=TITLE)
    patched = await client.patch(
        f"/activities/{activity['id']}",
        json={"task_team_id": team_and_meeting["team_id"]},
        headers=people.headers(Role.COORDINATOR) | {"If-Match": f'W/"{activity["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    moved = await client.post(
        f"/activities/{activity['id']}/transitions",
        json={
            "to": "task_team",
            "expected_version": patched.json()["version"],
            "reason": "Team agreed in Geneva",
        },
        headers=people.headers(Role.ADMIN),
    )
    assert moved.status_code == 200, moved.text
    subject = "Regional synergies workshops moved to task team"

    lead_email = people[Role.TASK_TEAM_LEAD].email
    coordinator_email = people[Role.COORDINATOR].email
    everyone = {lead_email, coordinator_email, settings.coordinators_group_email}
    await wait_for(lambda: everyone <= set(smtp.recipients()))  # each mail is sent on its own
    by_rcpt = {mail.rcpt_tos[0]: mail for mail in smtp.mails if mail.message["Subject"] == subject}
    assert everyone <= set(by_rcpt)

    lead_mail = by_rcpt[lead_email]
    text = lead_mail.text
    assert text.startswith(f"Dear {people[Role.TASK_TEAM_LEAD].name},\n\nPlan the task team stage")
    assert f"{people[Role.ADMIN].name} moved it from thematic group to task team" in text
    assert "Reason: Team agreed in Geneva" in text
    assert "Conventions:  Basel Convention, Rotterdam Convention, Stockholm Convention" in text
    assert f"http://testserver/app/activities/{activity['id']}" in text
    assert "You get this because you lead this activity." in text
    assert "Team agreed in Geneva" in lead_mail.html
    assert lead_mail.message["References"] == f"<activity-{activity['id']}@testserver>"
    assert lead_mail.message["Date"]
    assert "For your information" in by_rcpt[coordinator_email].text

    # The in-app feed shows the same title as the mail's subject.
    feed = (await client.get("/me/notifications", headers=people.headers(Role.TASK_TEAM_LEAD))).json()
    assert subject in [item["title"] for item in feed["items"]]
    # The admin who moved it is not mailed about their own move.
    assert people[Role.ADMIN].email not in smtp.recipients()


async def test_a_reminder_link_confirms_on_get_acts_once_on_post_and_is_refused_after(
    client, people, team_and_meeting, db, settings
) -> None:
    activity = await create(client, people, title=TITLE)
    lead = people[Role.TASK_TEAM_LEAD]
    async with db() as session, session.begin():
        acknowledge, snooze = await create_action_links(
            session, settings, lead.id, activity["id"], datetime.now(UTC)
        )
    assert snooze.url.startswith("http://testserver/notifications/actions/")
    path = snooze.url.removeprefix("http://testserver")

    page = await client.get(path)  # what a mail scanner's prefetch does: nothing changes
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert "Regional synergies workshops" in page.text and lead.name in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    reminders = await client.get(
        f"/activities/{activity['id']}/reminders", headers=people.headers(Role.ADMIN)
    )
    assert all(r["snoozed_until"] is None for r in reminders.json()["items"])

    done = await client.post(path)
    assert done.status_code == 200, done.text
    until = date.today() + timedelta(days=settings.reminder_snooze_days)
    assert "snoozed until" in done.text
    reminders = (
        await client.get(f"/activities/{activity['id']}/reminders", headers=people.headers(Role.ADMIN))
    ).json()["items"]
    assert reminders[-1]["snoozed_until"] == until.isoformat()
    assert reminders[-1]["snoozed_by_id"] == lead.id

    again = await client.post(path)
    assert again.status_code == 410 and "already used" in again.text
    assert (await client.get(path)).status_code == 410

    # An expired link is refused, and so is one that never existed.
    ack_path = acknowledge.url.removeprefix("http://testserver")
    async with db() as session, session.begin():
        await session.execute(
            update(ActionToken)
            .where(ActionToken.action == "acknowledge")
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    expired = await client.post(ack_path)
    assert expired.status_code == 410 and "expired" in expired.text
    assert (await client.get("/notifications/actions/not-a-token")).status_code == 404


async def test_a_coordinator_for_other_conventions_is_not_told(
    client, people, team_and_meeting, smtp, db
) -> None:
    from models import person_conventions

    async with db() as session, session.begin():
        await session.execute(
            person_conventions.insert().values(
                person_id=people[Role.COORDINATOR].id, convention_code="minamata"
            )
        )
    activity = await create(client, people, title=TITLE)
    moved = await client.post(
        f"/activities/{activity['id']}/transitions",
        json={"to": "withdrawn", "expected_version": activity["version"], "reason": "Merged into another"},
        headers=people.headers(Role.ADMIN),
    )
    assert moved.status_code == 200, moved.text

    async def lead_told() -> bool:
        async with db() as session:
            people_told = await session.scalars(
                select(Person.email).join(Notification, Notification.person_id == Person.id)
            )
            return people[Role.TASK_TEAM_LEAD].email in set(people_told)

    await wait_for(lead_told)
    await wait_for(lambda: people[Role.TASK_TEAM_LEAD].email in smtp.recipients())
    assert people[Role.COORDINATOR].email not in smtp.recipients()


async def test_the_acknowledge_button_of_a_mailed_reminder_works_once(
    client, people, team_and_meeting, smtp, db, settings
) -> None:
    import re

    import httpx
    from temporalio.testing import ActivityEnvironment

    from core.events import Audience, EventType, NotificationEvent
    from workflows.notifications import NotificationActivities

    activity = await create(client, people, title=TITLE)
    due = date.fromisoformat(activity["stage_due_on"])
    event = NotificationEvent(
        key=f"reminder-test-{activity['id']}/s1/{due}/before-3",
        type=EventType.REMINDER,
        title="",
        body="",
        activity_id=activity["id"],
        stage="thematic_group",
        audiences=(Audience.LEAD,),
        due_on=due,
    )
    async with httpx.AsyncClient(trust_env=False) as http:
        await ActivityEnvironment().run(NotificationActivities(settings, db, http).notify, event)
    [mail] = [m for m in smtp.mails if m.rcpt_tos == [people[Role.TASK_TEAM_LEAD].email]]
    when = f"{due.day} {due:%B %Y}"
    assert (
        mail.message["Subject"]
        == f"Reminder: Regional synergies workshops (thematic group) is due in 3 days, on {when}"
    )
    links = dict(re.findall(r"^(Acknowledge|Snooze \d+ days): (\S+)$", mail.text, re.MULTILINE))
    assert set(links) == {"Acknowledge", f"Snooze {settings.reminder_snooze_days} days"}
    assert all(url in mail.html for url in links.values())
    path = links["Acknowledge"].removeprefix("http://testserver")

    assert "Acknowledge" in (await client.get(path)).text
    done = await client.post(path)
    assert done.status_code == 200 and "acknowledged" in done.text
    reminders = (
        await client.get(f"/activities/{activity['id']}/reminders", headers=people.headers(Role.ADMIN))
    ).json()["items"]
    assert reminders[-1]["acknowledged_by_id"] == people[Role.TASK_TEAM_LEAD].id
    assert (await client.post(path)).status_code == 410
