"""Browser sign-in without tokens in URLs: one-time links by e-mail, server-side sessions in an
HttpOnly cookie, CSRF tokens on every state-changing request, the same role rules as the API."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from api.deps import SESSION_COOKIE
from core.stages import Role
from models import SignInLink, WebSession, utcnow
from tests.conftest import People

LINK = re.compile(r"https?://\S+/app/sign-in/(\S+)")


async def request_link(client: httpx.AsyncClient, smtp, email: str) -> str:  # type: ignore[no-untyped-def]
    before = len(smtp.mails)
    response = await client.post("/app/sign-in", data={"email": email})
    assert response.status_code == 303 and response.headers["location"] == "/app/sign-in?sent=1"
    assert len(smtp.mails) == before + 1
    match = LINK.search(smtp.mails[-1].text)
    assert match, smtp.mails[-1].text
    return f"/app/sign-in/{match.group(1)}"


async def sign_in(client: httpx.AsyncClient, smtp, email: str) -> str:  # type: ignore[no-untyped-def]
    """Sign in by e-mailed link; returns the page's CSRF token."""
    path = await request_link(client, smtp, email)
    response = await client.post(path)
    assert response.status_code == 303 and response.headers["location"] == "/app/"
    board = await client.get("/app/")
    assert board.status_code == 200
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', board.text)
    assert match
    return match.group(1)


async def test_a_link_from_the_mail_signs_in_once_into_an_httponly_session(
    client: httpx.AsyncClient, people: People, smtp, db
) -> None:
    coordinator = people[Role.COORDINATOR]
    path = await request_link(client, smtp, coordinator.email.upper())
    assert smtp.mails[-1].rcpt_tos == [coordinator.email]

    confirm = await client.get(path)  # a mail scanner opening the link spends nothing
    assert confirm.status_code == 200 and "Sign in" in confirm.text
    response = await client.post(path)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    board = await client.get("/app/")
    assert board.status_code == 200 and coordinator.name in board.text

    again = await httpx.AsyncClient(transport=client._transport, base_url="http://testserver").post(path)
    assert again.status_code == 400 and "does not work any more" in again.text
    async with db() as session:
        links = list(await session.scalars(select(SignInLink)))
        assert [link.used_at is not None for link in links] == [True]
        assert path.rsplit("/", 1)[1] not in {link.token_hash for link in links}  # stored hashed


async def test_asking_for_a_link_does_not_tell_who_has_an_account(
    client: httpx.AsyncClient, people: People, smtp
) -> None:
    for email in ("nobody@example.org", "not an address"):
        response = await client.post("/app/sign-in", data={"email": email})
        assert response.status_code == 303 and response.headers["location"] == "/app/sign-in?sent=1"
    assert smtp.mails == []


async def test_an_expired_link_does_not_sign_in(client: httpx.AsyncClient, people: People, smtp, db) -> None:
    path = await request_link(client, smtp, people[Role.COORDINATOR].email)
    async with db() as session, session.begin():
        await session.execute(update(SignInLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await client.post(path)).status_code == 400
    assert (await client.get("/app/")).headers["location"].startswith("/app/sign-in")


async def test_every_state_changing_request_needs_the_csrf_token(
    client: httpx.AsyncClient, people: People, smtp
) -> None:
    token = await sign_in(client, smtp, people[Role.COORDINATOR].email)
    refused = await client.post("/app/notifications/read-all", data={})
    assert refused.status_code == 403 and "out of date" in refused.text
    forged = await client.post("/app/notifications/read-all", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert (await client.post("/app/notifications/read-all", data={"csrf_token": token})).status_code == 303
    # The JSON API accepts the session too, with the token as a header (htmx sends it so).
    assert (await client.post("/me/notifications/read-all")).status_code == 403
    assert (
        await client.post("/me/notifications/read-all", headers={"X-CSRF-Token": token})
    ).status_code == 200


async def test_sessions_are_listed_revoked_and_expire(
    client: httpx.AsyncClient, people: People, smtp, db
) -> None:
    token = await sign_in(client, smtp, people[Role.TASK_TEAM_LEAD].email)
    page = await client.get("/app/sessions")
    assert page.status_code == 200 and "(this browser)" in page.text
    async with db() as session:
        row = await session.scalar(select(WebSession))
        assert row is not None
    # Idle too long: signed out.
    async with db() as session, session.begin():
        await session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(hours=13)))
    assert (await client.get("/app/")).status_code == 303
    async with db() as session, session.begin():
        await session.execute(update(WebSession).values(last_seen_at=utcnow()))
    assert (await client.get("/app/")).status_code == 200
    # Another person cannot revoke it; the person can.
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    other_token = await sign_in(other, smtp, people[Role.COORDINATOR].email)
    refused = await other.post(f"/app/sessions/{row.id}/revoke", data={"csrf_token": other_token})
    assert refused.status_code == 404
    revoked = await client.post(f"/app/sessions/{row.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert (await client.get("/app/")).headers["location"].startswith("/app/sign-in")


async def test_an_admin_lists_and_revokes_anyones_session(
    client: httpx.AsyncClient, people: People, smtp, db
) -> None:
    lead = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    await sign_in(lead, smtp, people[Role.TASK_TEAM_LEAD].email)
    admin_token = await sign_in(client, smtp, people[Role.ADMIN].email)
    page = await client.get("/app/sessions")
    assert people[Role.TASK_TEAM_LEAD].name in page.text
    async with db() as session:
        row = await session.scalar(
            select(WebSession).where(WebSession.person_id == people[Role.TASK_TEAM_LEAD].id)
        )
    assert row is not None
    response = await client.post(f"/app/sessions/{row.id}/revoke", data={"csrf_token": admin_token})
    assert response.status_code == 303
    assert (await lead.get("/app/")).status_code == 303


async def test_the_root_sends_browsers_to_the_app_and_api_clients_to_an_index(
    client: httpx.AsyncClient,
) -> None:
    browser = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 303 and browser.headers["location"] == "/app/"
    api = await client.get("/", headers={"Accept": "application/json"})
    assert api.json()["links"]["app"]["href"] == "/app/"


def test_sign_in_links_are_kept_out_of_the_logs() -> None:
    from core.observability import redact_text

    line = "path=/app/sign-in/JKM3KWWyaccZvLqHcoxT-D1_yH_PNX0uUkb1n0zMnLI status=303"
    assert "JKM3KWW" not in redact_text(line)
    assert "/app/sign-in/" in redact_text(line)


async def test_a_calendar_feed_address_opens_only_that_feed_and_can_be_replaced(
    client: httpx.AsyncClient, people: People, smtp
) -> None:
    token = await sign_in(client, smtp, people[Role.TASK_TEAM_LEAD].email)
    page = await client.post("/app/calendar-feed", data={"csrf_token": token})
    assert page.status_code == 200
    match = re.search(r'value="http://testserver(/calendar/[^"]+\.ics)"', page.text)
    assert match, page.text
    first = match.group(1)
    feed = await httpx.AsyncClient(transport=client._transport, base_url="http://testserver").get(first)
    assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
    # The secret is no API token.
    secret = first.removeprefix("/calendar/").removesuffix(".ics")
    api = await client.get("/activities", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401
    # A new address replaces the old one; stopping ends it.
    page = await client.post("/app/calendar-feed", data={"csrf_token": token})
    second = re.search(r'value="http://testserver(/calendar/[^"]+\.ics)"', page.text)
    assert second and second.group(1) != first
    assert (await client.get(first)).status_code == 404
    assert (await client.get(second.group(1))).status_code == 200
    await client.post("/app/calendar-feed/stop", data={"csrf_token": token})
    assert (await client.get(second.group(1))).status_code == 404


async def test_the_oversight_team_has_no_calendar_feed_to_make(
    client: httpx.AsyncClient, people: People, smtp
) -> None:
    token = await sign_in(client, smtp, people[Role.OVERSIGHT].email)
    assert "Make a calendar address" not in (await client.get("/app/my-work")).text
    assert (await client.post("/app/calendar-feed", data={"csrf_token": token})).status_code == 403


async def test_sign_in_posts_from_another_site_are_refused(
    client: httpx.AsyncClient, people: People, smtp
) -> None:
    path = await request_link(client, smtp, people[Role.COORDINATOR].email)
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert (await client.post(path, headers=cross)).status_code == 403
    assert (
        await client.post("/app/sign-in", data={"email": "x@example.org"}, headers=cross)
    ).status_code == 403
    assert (await client.post(path, headers={"Sec-Fetch-Site": "same-origin"})).status_code == 303


async def test_link_requests_beyond_the_limit_send_nothing(
    client: httpx.AsyncClient, people: People, smtp, settings
) -> None:
    email = people[Role.COORDINATOR].email
    for _ in range(settings.auth_failures_per_minute):
        await client.post("/app/sign-in", data={"email": "nobody@example.org"})
    response = await client.post("/app/sign-in", data={"email": email})
    assert response.status_code == 303 and response.headers["location"] == "/app/sign-in?sent=1"
    assert smtp.mails == []


async def test_the_reports_page_hands_over_to_the_report_routes_with_the_session(
    client: httpx.AsyncClient, people: People, smtp, reference_data
) -> None:
    await sign_in(client, smtp, people[Role.OVERSIGHT].email)
    page = await client.get("/app/reports")
    assert page.status_code == 200 and "SC-COP5" in page.text
    assert 'name="variant"' in page.text and 'name="lang"' in page.text
    picked = await client.get("/app/reports", params={"meeting": "SC-COP5", "format": "html"})
    assert picked.status_code == 303
    assert picked.headers["location"] == "/reports/meetings/SC-COP5?format=html&variant=document&lang=en"
    report = await client.get(picked.headers["location"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    french = await client.get(
        "/app/reports", params={"meeting": "SC-COP5", "format": "html", "variant": "internal", "lang": "fr"}
    )
    report = await client.get(french.headers["location"])
    assert report.status_code == 200 and 'lang="fr"' in report.text


async def test_a_task_team_lead_is_not_offered_the_internal_report(
    client: httpx.AsyncClient, people: People, smtp, reference_data
) -> None:
    await sign_in(client, smtp, people[Role.TASK_TEAM_LEAD].email)
    page = await client.get("/app/reports")
    assert page.status_code == 200
    assert 'value="document"' in page.text and 'value="internal"' not in page.text
    internal = {"meeting": "SC-COP5", "format": "html", "variant": "internal"}
    picked = await client.get("/app/reports", params=internal)
    assert (await client.get(picked.headers["location"])).status_code == 403


async def test_malformed_form_values_get_a_page_not_a_500(
    app, temporal_env, client: httpx.AsyncClient, people: People, smtp, db
) -> None:
    from tests.activity_support import add_activity

    app.state.temporal = temporal_env.client  # the routes take a client; nothing reaches a workflow
    activity_id = (await add_activity(db, conventions=())).id
    token = await sign_in(client, smtp, people[Role.COORDINATOR].email)
    bulk = await client.post(
        "/app/bulk-move", data={"csrf_token": token, "to": "nowhere", "request_id": "r", "selected": "1:1"}
    )
    assert bulk.status_code == 422 and "is not a stage" in bulk.text
    edit = await client.post(
        f"/app/activities/{activity_id}/edit",
        data={"csrf_token": token, "version": "1", "stage_due_on": "31.12.2026"},
    )
    assert edit.status_code == 303 and "not+a+date" in edit.headers["location"]
    missing = await client.post(f"/app/activities/{activity_id}/edit", data={"csrf_token": token})
    assert missing.status_code == 422 and "missing" in missing.text


async def test_my_work_lists_notifications_and_marks_them_read(
    client: httpx.AsyncClient, people: People, smtp, db
) -> None:
    from models import Notification

    lead = people[Role.TASK_TEAM_LEAD]
    async with db() as session, session.begin():
        for n in (1, 2):
            session.add(
                Notification(
                    key=f"test-{n}",
                    person_id=lead.id,
                    event_type="reminder",
                    title=f"Reminder {n}",
                    body="Due soon",
                )
            )
    token = await sign_in(client, smtp, lead.email)
    page = await client.get("/app/my-work")
    assert "2 unread" in page.text and "Reminder 1" in page.text
    async with db() as session:
        first = await session.scalar(select(Notification).where(Notification.key == "test-1"))
    assert first is not None
    await client.post(f"/app/notifications/{first.id}/read", data={"csrf_token": token})
    assert "1 unread" in (await client.get("/app/my-work")).text
    await client.post("/app/notifications/read-all", data={"csrf_token": token})
    assert "0 unread" in (await client.get("/app/my-work")).text


async def test_a_column_longer_than_the_board_shows_is_listed_page_by_page(
    client: httpx.AsyncClient, people: People, smtp, db, monkeypatch
) -> None:
    from datetime import date

    from api.web import queries
    from tests.activity_support import add_activity

    for day in (3, 1, 2):
        await add_activity(db, conventions=(), title=f"Due on the {day}", stage_due_on=date(2031, 1, day))
    monkeypatch.setattr(queries, "COLUMN_LIMIT", 2)
    monkeypatch.setattr(queries, "LIST_PAGE", 2)
    await sign_in(client, smtp, people[Role.OVERSIGHT].email)
    board = await client.get("/app/")
    link = re.search(r'href="(/app/list\?stage=thematic_group)">See all 3', board.text)
    assert link, board.text
    first = await client.get(link.group(1))
    titles = re.findall(r">(Due on the \d)<", first.text)
    assert titles == ["Due on the 1", "Due on the 2"]
    next_page = re.search(r'href="([^"]+)">Next page', first.text)
    assert next_page
    second = await client.get(next_page.group(1).replace("&amp;", "&"))
    assert re.findall(r">(Due on the \d)<", second.text) == ["Due on the 3"]
    assert "Next page" not in second.text
    assert (await client.get("/app/list?stage=closed")).status_code == 422


async def test_signing_in_returns_to_the_page_asked_for(
    client: httpx.AsyncClient, people: People, smtp, db
) -> None:
    from tests.activity_support import add_activity

    activity_id = (await add_activity(db, conventions=())).id
    asked = await client.get(f"/app/activities/{activity_id}?notice=x")
    assert asked.status_code == 303 and asked.headers["location"] == "/app/sign-in"
    path = await request_link(client, smtp, people[Role.OVERSIGHT].email)
    response = await client.post(path)
    assert response.headers["location"] == f"/app/activities/{activity_id}?notice=x"

    client.cookies.set("synergies_next", "//evil.example.org/app/")
    path = await request_link(client, smtp, people[Role.OVERSIGHT].email)
    assert (await client.post(path)).headers["location"] == "/app/"


async def test_the_activity_page_shows_where_the_record_comes_from(
    client: httpx.AsyncClient, people: People, smtp, db
) -> None:
    """Provenance (issue 18): the demo's facts cite the note they come from, illustration says so."""
    from services.seed import load_demo_data

    async with db() as session, session.begin():
        result = await load_demo_data(session)
    await sign_in(client, smtp, people[Role.OVERSIGHT].email)
    page = await client.get(f"/app/activities/{result.activity_ids[0]}")
    assert page.status_code == 200, page.text
    assert "Source: Note by the secretariats on joint activities, 17 November 2009" in page.text
    assert "(source: Illustrative" in page.text  # the moves after the note


async def test_the_notification_settings_every_mail_links_to_are_a_page_that_saves(
    client: httpx.AsyncClient, people: People, smtp, reference_data
) -> None:
    """The mails' List-Unsubscribe and footer point here: digest, own changes, conventions."""
    token = await sign_in(client, smtp, people[Role.COORDINATOR].email)
    page = await client.get("/app/settings/notifications")
    assert page.status_code == 200 and 'value="minamata"' in page.text
    forged = await client.post("/app/settings/notifications", data={"digest": "weekly"})
    assert forged.status_code == 403
    saved = await client.post(
        "/app/settings/notifications",
        data={"csrf_token": token, "digest": "weekly", "conventions": ["minamata"]},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/app/settings/notifications?saved=1"
    me = (await client.get("/me")).json()
    assert (me["digest"], me["conventions"], me["notify_own_changes"]) == ("weekly", ["minamata"], False)
