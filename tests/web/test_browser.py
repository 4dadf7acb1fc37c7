"""The web app's journeys in a real headless Chromium, on the real stack: the API in its own
uvicorn process, a Temporal dev server, a worker, and an SMTP catcher (aiosmtpd) that the sign-in
links are read from. axe-core checks every page: no serious or critical violation.

Needs Chromium (tests/browser_support.py; scripts/test-services installs it); the tests
fail, never skip, when it is missing.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.stages import Role
from models import Body, BodyKind, Meeting, PilotProject, ReminderEvent, TaskTeam, utcnow
from services import activities
from services.accounts import Principal
from tests.browser_support import assert_accessible
from tests.conftest import People
from tests.process_support import LiveServer, live_server
from tests.servers_support import SMTPServer
from workflows import commands

LINK = re.compile(r"(https?://\S+/app/sign-in/\S+)")
WAIT = 20_000  # ms: a move is a Temporal Update and a DB write on a shared machine


@dataclass
class Journey:
    server: LiveServer
    smtp: SMTPServer
    people: People
    workshop: int  # led by the task-team lead; walks every stage
    mercury: int  # Minamata only, no task team yet
    customs: int  # ready for the task team
    meeting_code: str


async def _seed(db: Any, people: People, client: Any, settings: Settings) -> tuple[int, int, int, str]:
    lead = people[Role.TASK_TEAM_LEAD]
    coordinator = people[Role.COORDINATOR]
    async with db() as session:
        group = await session.scalar(
            select(Body).where(Body.kind == BodyKind.THEMATIC_GROUP).order_by(Body.id)
        )
        meeting = await session.scalar(select(Meeting).where(Meeting.code == "SC-COP5"))
        team = TaskTeam(name="E-waste task team", lead_id=lead.id, ends_on=date.today() + timedelta(days=200))
        session.add(team)
        await session.commit()
        principal = Principal(coordinator.id, Role.COORDINATOR, coordinator.name, coordinator.email)
        draft = dict(
            description="",
            provisions=["BRS/SYN/I.A.4"],
            thematic_group_id=group.id,
            lead_id=lead.id,
            task_team_id=team.id,
            target_meeting_id=None,
            watcher_ids=[],
            stage_due_on=None,
        )
        workshop = await commands.create_activity(
            session,
            client,
            settings,
            principal,
            activities.ActivityDraft(
                title="Regional e-waste workshop",
                conventions=["basel", "stockholm"],
                single_convention_reason=None,
                **draft,  # type: ignore[arg-type]
            ),
        )
        mercury = await commands.create_activity(
            session,
            client,
            settings,
            principal,
            activities.ActivityDraft(
                title="Mercury storage guidance",
                conventions=["minamata"],
                single_convention_reason="the guidance answers the Minamata Convention alone",
                **{**draft, "lead_id": coordinator.id, "task_team_id": None},  # type: ignore[arg-type]
            ),
        )
        customs = await commands.create_activity(
            session,
            client,
            settings,
            principal,
            activities.ActivityDraft(
                title="Customs officers training",
                conventions=["basel", "rotterdam"],
                single_convention_reason=None,
                **{**draft, "lead_id": coordinator.id},  # type: ignore[arg-type]
            ),
        )
        session.add(
            PilotProject(
                activity_id=workshop.id,
                title="Take-back scheme in southern Africa",
                region="Africa",
                countries=["ZA", "BW"],
                lessons_learned="Customs and environment ministries must share one inventory.",
            )
        )
        # A reminder the workflow's timer fired for the current stage (its timers run for months).
        session.add(
            ReminderEvent(
                key=f"test-reminder-{workshop.id}",
                activity_id=workshop.id,
                stage="thematic_group",
                kind="reminder",
                due_on=date.today() + timedelta(days=3),
                fired_at=utcnow(),
            )
        )
        await session.commit()
        return workshop.id, mercury.id, customs.id, meeting.code


@pytest.fixture
async def journey(
    database_url: str,
    tmp_path: Path,
    settings: Settings,
    reference_data: Any,
    people: People,
    temporal_env: WorkflowEnvironment,
    smtp: SMTPServer,
) -> AsyncIterator[Journey]:
    from workflows.worker import build_worker

    client = temporal_env.client
    env = {
        "SYNERGIES_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "SYNERGIES_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SYNERGIES_WORKFLOW_ID_PREFIX": settings.workflow_id_prefix,
        "SYNERGIES_SMTP_PORT": str(smtp.port),
    }
    async with (
        httpx.AsyncClient() as http,
        build_worker(client, settings, reference_data, http),
        live_server(database_url, tmp_path, extra_env=env) as server,
    ):
        workshop, mercury, customs, meeting = await _seed(reference_data, people, client, settings)
        yield Journey(server, smtp, people, workshop, mercury, customs, meeting)


@pytest.fixture
async def page(chromium: Browser) -> AsyncIterator[Page]:
    """A page in a fresh context of the session's Chromium (no cookie of another test)."""
    context = await chromium.new_context()
    page = await context.new_page()
    errors: list[Any] = []
    page.on("pageerror", lambda error: errors.append(error))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def link_from_mail(smtp: SMTPServer, email: str) -> str:
    for _ in range(100):
        for mail in reversed(smtp.mails):
            if email in mail.rcpt_tos and (match := LINK.search(mail.text)):
                return match.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no sign-in mail reached {email}")


async def sign_in_by_mail(page: Page, journey: Journey, role: Role) -> None:
    email = journey.people[role].email
    await page.goto(f"{journey.server.url}/app/")
    await expect(page).to_have_url(re.compile(r"/app/sign-in"))
    await assert_accessible(page)
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_role("button", name="Send me a sign-in link").click()
    await expect(page.get_by_text("we have sent a sign-in link")).to_be_visible()
    await page.goto(await link_from_mail(journey.smtp, email))
    await assert_accessible(page)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Board of open activities")).to_be_visible()
    assert "token" not in page.url


async def sign_in_by_cli(page: Page, journey: Journey, database_url: str, role: Role) -> None:
    """`synergies signin-link --email …` as an admin runs it; the printed link signs in."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "synergies"),
        "signin-link",
        "--email",
        journey.people[role].email,
        env=os.environ | {"DATABASE_URL": database_url, "SYNERGIES_PUBLIC_URL": journey.server.url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    await page.goto(out.decode().strip())
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Board of open activities")).to_be_visible()


async def move_in_dialog(page: Page, choice: str) -> None:
    dialog = page.locator("dialog#dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("radio", name=re.compile("^" + choice)).check()  # plain words only
    await dialog.get_by_role("button", name="Move", exact=True).click()


async def test_a_coordinator_signs_in_by_mail_filters_the_board_and_moves_an_activity_to_closed(
    journey: Journey, page: Page
) -> None:
    url, workshop = journey.server.url, journey.workshop
    await sign_in_by_mail(page, journey, Role.COORDINATOR)
    await expect(page.get_by_test_id("board-total")).to_contain_text("3 open activities")
    await assert_accessible(page)

    # Filters live in the URL: Minamata only, then free text; a reload (a bookmark) keeps them.
    await page.get_by_label("Convention").select_option("minamata")
    await expect(page).to_have_url(re.compile(r"convention=minamata"))
    await expect(page.get_by_test_id("board-total")).to_contain_text("1 open activity match")
    await expect(page.get_by_test_id(f"card-{journey.mercury}")).to_be_visible()
    await expect(page.get_by_test_id(f"card-{workshop}")).to_have_count(0)
    await page.reload()
    await expect(page.get_by_test_id("count-thematic_group")).to_have_text("1")
    await page.goto(f"{url}/app/?q=e-waste")
    await expect(page.get_by_test_id("board-total")).to_contain_text("1 open activity match")
    await expect(page.get_by_label("Words in the title or description")).to_have_value("e-waste")

    # Thematic group → task team, from the board's dialog.
    await page.get_by_role("link", name="Move Regional e-waste workshop").click()
    await assert_accessible(page)
    await move_in_dialog(page, "Move forward to Task team")
    await expect(page.get_by_test_id("stage")).to_have_text("Task team", timeout=WAIT)
    await expect(page.get_by_role("status")).to_contain_text("Moved to Task team.")

    # Task team → pilot project, from the activity page.
    await page.get_by_role("link", name="Move…").click()
    await move_in_dialog(page, "Move forward to Pilot project")
    await expect(page.get_by_test_id("stage")).to_have_text("Pilot project", timeout=WAIT)
    await assert_accessible(page)

    # Report to COP is blocked until a target meeting is chosen; the dialog links to the field.
    await page.get_by_role("link", name="Move…").click()
    blocked = page.get_by_test_id("option-report_to_cop")
    await expect(blocked).to_contain_text("needs a target COP meeting")
    await expect(blocked.get_by_role("radio")).to_be_disabled()
    await blocked.get_by_role("link", name="Choose the target COP meeting").click()
    await expect(page).to_have_url(re.compile(r"#field-target_meeting_id$"))
    field = page.get_by_label("Target COP meeting")
    meeting = await field.locator("option", has_text=journey.meeting_code).get_attribute("value")
    await field.select_option(meeting)
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved.", timeout=WAIT)
    await page.get_by_role("link", name="Move…").click()
    await move_in_dialog(page, "Move forward to Report to COP")
    await expect(page.get_by_test_id("stage")).to_have_text("Report to COP", timeout=WAIT)

    # Someone else sends it back while the dialog is open: the dialog says who and offers a reload.
    await page.get_by_role("link", name="Move…").click()
    await expect(page.locator("dialog#dialog")).to_be_visible()
    async with httpx.AsyncClient(base_url=url, headers=journey.people.headers(Role.ADMIN)) as api:
        current = (await api.get(f"/activities/{workshop}")).json()
        sent_back = await api.post(
            f"/activities/{workshop}/transitions",
            json={"to": "pilot_project", "expected_version": current["version"], "reason": "one more pilot"},
        )
        assert sent_back.status_code == 200, sent_back.text
    await move_in_dialog(page, "Close after the COP has considered it")
    error = page.get_by_test_id("move-error")
    await expect(error).to_contain_text("Someone else changed this activity", timeout=WAIT)
    await expect(error).to_contain_text("Test Admin moved it from Report to COP to Pilot project")
    await assert_accessible(page)
    await error.get_by_role("link", name="Reload the choices").click()
    await expect(page.get_by_test_id("move-error")).to_have_count(0)  # the fresh dialog
    await expect(page.locator("dialog#dialog")).to_contain_text("It is now in Pilot project.")
    await move_in_dialog(page, "Move forward to Report to COP")
    await expect(page.locator("dialog#dialog")).to_be_hidden(timeout=WAIT)  # the page reloaded
    await expect(page.get_by_test_id("stage")).to_have_text("Report to COP")

    # Report to COP → closed, with the meeting that considered it.
    await page.get_by_role("link", name="Move…").click()
    await move_in_dialog(page, "Close after the COP has considered it")
    await expect(page.get_by_test_id("stage")).to_have_text("Closed", timeout=WAIT)
    await expect(page.get_by_role("link", name="Move…")).to_have_count(0)
    timeline = page.get_by_test_id("timeline").locator("li")
    await expect(timeline).to_have_count(8)  # 7 transitions and the edit of the target meeting
    await expect(page.get_by_test_id("timeline")).to_contain_text(
        f"Target meeting changed from none to {journey.meeting_code} by Test Coordinator"
    )
    await expect(timeline.first).to_contain_text("Report to COP → Closed by Test Coordinator")
    await expect(page.get_by_test_id("timeline")).to_contain_text("by Test Admin: “one more pilot”")
    await assert_accessible(page)
    await page.goto(f"{url}/app/")
    await expect(page.get_by_test_id(f"card-{workshop}")).to_have_count(0)

    # A new activity: the provisions are required; it starts in the thematic group, watched by its creator.
    await page.get_by_role("link", name="New activity").click()
    await assert_accessible(page)
    await page.get_by_label("Title").fill("Joint e-learning platform")
    await page.get_by_role("button", name="Create activity").click()
    await expect(page).to_have_url(re.compile(r"/app/activities/new$"))  # the browser asks for provisions
    await page.get_by_label("Provisions of the decisions it answers").select_option(index=0)
    await page.get_by_role("checkbox", name="Basel Convention").check()
    await page.get_by_role("checkbox", name="Minamata Convention").check()
    await page.get_by_role("button", name="Create activity").click()
    await expect(page.get_by_test_id("stage")).to_have_text("Thematic group", timeout=WAIT)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Joint e-learning platform")
    await expect(page.locator(".details")).to_contain_text("Basel Convention, Minamata Convention")
    await expect(page.locator(".details")).to_contain_text("Watchers")
    await expect(page.get_by_role("button", name="Stop watching")).to_be_visible()
    await page.locator("#field-conventions").get_by_role("checkbox", name="Minamata Convention").uncheck()
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved.", timeout=WAIT)
    await expect(page.get_by_test_id("timeline")).to_contain_text(
        "Conventions changed from basel, minamata to basel by Test Coordinator"
    )
    await page.goto(f"{url}/app/")

    # Bulk move of selected cards: one result per card, a blocked one says why.
    await page.get_by_label("Select Customs officers training").check()
    await page.get_by_label("Select Mercury storage guidance").check()
    await page.get_by_label("To", exact=True).select_option("task_team")
    await page.get_by_role("button", name="Move selected").click()
    results = page.get_by_test_id("bulk-results")
    await expect(page.get_by_role("status")).to_have_text("1 of 2 moved.", timeout=WAIT)
    await expect(results.locator("tr", has_text="Customs officers training")).to_contain_text(
        "Moved to Task team."
    )
    await expect(results.locator("tr", has_text="Mercury storage guidance")).to_contain_text(
        "Not moved: entering task team needs a task team with a lead"
    )
    await assert_accessible(page)


async def test_a_task_team_lead_records_an_action_and_acknowledges_a_reminder_but_cannot_move(
    journey: Journey, page: Page, database_url: str
) -> None:
    url, workshop = journey.server.url, journey.workshop
    await sign_in_by_cli(page, journey, database_url, Role.TASK_TEAM_LEAD)
    await expect(page.get_by_role("link", name=re.compile("^Move "))).to_have_count(0)

    await page.get_by_role("link", name="My work").click()
    mine = page.get_by_test_id("my-activities")
    await expect(mine).to_contain_text("Regional e-waste workshop")
    await expect(mine).to_contain_text("Waiting for an answer")
    await expect(mine).not_to_contain_text("Mercury storage guidance")
    await assert_accessible(page)

    await mine.get_by_role("link", name="Regional e-waste workshop").click()
    await expect(page.get_by_role("link", name="Move…")).to_have_count(0)
    await expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
    await assert_accessible(page)

    # Record an action, then correct it in place.
    await page.get_by_label("What was done or is planned").last.fill("Held the first workshop in Pretoria")
    await page.get_by_role("button", name="Record action").click()
    await expect(page.get_by_role("status")).to_contain_text("Action recorded.")
    actions = page.get_by_test_id("actions")
    await expect(actions).to_contain_text("Held the first workshop in Pretoria")
    await actions.get_by_text("Edit this entry").click()
    await actions.get_by_label("What was done or is planned").fill("Held the first workshop in Gaborone")
    await actions.get_by_role("button", name="Save entry").click()
    await expect(page.get_by_role("status")).to_contain_text("Action saved.")
    await expect(actions).to_contain_text("Held the first workshop in Gaborone — Test Task Team Lead")

    # Correct the pilot's lessons learned, and add a second pilot project.
    pilots = page.locator("#pilots")
    await pilots.get_by_text("Edit this pilot project").click()
    await pilots.get_by_label("Lessons learned").first.fill("One shared inventory saves a month.")
    await pilots.get_by_role("button", name="Save pilot project").click()
    await expect(page.get_by_role("status")).to_contain_text("Pilot project saved.")
    await expect(pilots).to_contain_text("Lessons learned: One shared inventory saves a month.")
    await pilots.get_by_label("Title of the pilot project").last.fill("Port inspections")
    await pilots.get_by_label("Region").last.fill("Asia-Pacific")
    await pilots.get_by_label("Countries").last.fill("ID, PH")
    await pilots.get_by_role("button", name="Add pilot project").click()
    await expect(pilots).to_contain_text("Asia-Pacific: ID, PH")

    # Snooze the reminder for a week, then acknowledge it, both through the workflow.
    until = date.today() + timedelta(days=7)
    await page.get_by_label("Remind me again on").fill(until.isoformat())
    await page.get_by_role("button", name="Snooze reminders").click()
    await expect(page.get_by_role("status")).to_contain_text(
        f"Reminders snoozed until {until.day} {until:%B %Y}.", timeout=WAIT
    )
    await expect(page.get_by_test_id("reminders")).to_contain_text(f"snoozed until {until.day} {until:%B %Y}")
    await page.get_by_label("Note (optional)").fill("Workshop report due next week")
    await page.get_by_role("button", name="Acknowledge reminder").click()
    await expect(page.get_by_role("status")).to_contain_text("Reminder acknowledged.", timeout=WAIT)
    await expect(page.get_by_test_id("reminders")).to_contain_text("acknowledged by Test Task Team Lead")
    await assert_accessible(page)

    # Watch, then stop watching (an edit of the watchers, through the workflow).
    await page.get_by_role("button", name="Watch", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Watching.", timeout=WAIT)
    await expect(page.locator(".details")).to_contain_text("Test Task Team Lead")
    await page.get_by_role("button", name="Stop watching").click()
    await expect(page.get_by_role("status")).to_contain_text("No longer watching.", timeout=WAIT)
    await expect(page.get_by_test_id("timeline")).to_contain_text("Watchers changed from none to Test Task")

    # Moving is for the coordinators group: the dialog and a posted move are refused.
    response = await page.goto(f"{url}/app/activities/{workshop}/move")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", name="You cannot do that")).to_be_visible()
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    posted = await page.request.post(
        f"{url}/app/activities/{workshop}/move",
        form={"csrf_token": token or "", "to": "task_team", "version": "1", "request_id": "lead-try"},
    )
    assert posted.status == 403
    await page.goto(f"{url}/app/activities/{workshop}")
    await expect(page.get_by_test_id("stage")).to_have_text("Thematic group")


async def test_an_oversight_member_reads_everything_and_changes_nothing(journey: Journey, page: Page) -> None:
    url, workshop = journey.server.url, journey.workshop
    await sign_in_by_mail(page, journey, Role.OVERSIGHT)
    main = page.locator("main")
    await expect(main.locator("form:not([role=search])")).to_have_count(0)
    own_settings = ("/app/reports", "/app/sessions", "/app/settings/notifications")
    for path in (f"/app/activities/{workshop}", "/app/my-work", *own_settings):
        await page.goto(url + path)
        await assert_accessible(page)
        if path not in own_settings:
            await expect(main.locator("form")).to_have_count(0)
            await expect(main.get_by_role("button")).to_have_count(0)
    await page.goto(f"{url}/app/activities/{workshop}")
    await expect(page.get_by_text("Regional e-waste workshop").first).to_be_visible()

    # A forged form post with the page's own CSRF token is refused by role; one without, by CSRF.
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    edit = {"version": "1", "title": "Taken over", "csrf_token": token or ""}
    assert (await page.request.post(f"{url}/app/activities/{workshop}/edit", form=edit)).status == 403
    no_token = {key: value for key, value in edit.items() if key != "csrf_token"}
    assert (await page.request.post(f"{url}/app/activities/{workshop}/edit", form=no_token)).status == 403
    action = {"csrf_token": token or "", "kind": "taken", "on_date": "2026-12-01", "text": "forged"}
    assert (await page.request.post(f"{url}/app/activities/{workshop}/actions", form=action)).status == 403
    await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Regional e-waste workshop")
    await expect(page.get_by_test_id("actions")).to_contain_text("Nothing recorded yet.")

    # Readable on a phone: 390 px wide, no horizontal scroll.
    await page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/app/", f"/app/activities/{workshop}"):
        await page.goto(url + path)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
