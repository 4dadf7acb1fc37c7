"""The oversight views in a real headless Chromium against a real uvicorn server: an oversight
member filters to Minamata, drills from a count to an activity, downloads the list as CSV and XLSX
(the files hold the rows on the screen), sees new moves made through the API arrive live on the event
stream, each once; axe-core finds no serious or critical violation on any view; at 390 px wide no
view scrolls sideways.

Needs Debian's `chromium` at /usr/bin/chromium (fails, never skips, without it). The browser is
signed in as the web app signs a person in: a session cookie (the stream takes it too).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, BrowserContext, Page, expect

from api.deps import SESSION_COOKIE
from core.settings import Settings
from core.stages import Role
from services.transitions import TransitionRecord, record_transition
from services.web_auth import open_session
from tests.browser_support import assert_accessible
from tests.conftest import People
from tests.lifecycle_support import create, move
from tests.oversight.oversight_data import TG, TT, OversightData
from tests.process_support import LiveServer

WAIT = 20_000  # ms: a move is a Temporal Update and a DB write on a shared machine
VIEWS = ["", "/coverage", "/cop-readiness", "/due", "/flow", "/transitions", "/activities"]


@pytest.fixture
async def browser_context(
    server: LiveServer, people: People, db, settings: Settings, chromium: Browser
) -> AsyncIterator[BrowserContext]:
    """A fresh context of the session's Chromium with the oversight member's web session cookie."""
    async with db() as session, session.begin():
        _, secret = await open_session(session, people[Role.OVERSIGHT], settings, user_agent="test")
    context = await chromium.new_context(accept_downloads=True)
    await context.add_cookies([{"name": SESSION_COOKIE, "value": secret, "url": server.url}])
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def page(browser_context: BrowserContext) -> AsyncIterator[Page]:
    page = await browser_context.new_page()
    errors: list[Any] = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


async def screen_rows(page: Page) -> list[list[str]]:
    """The activity list's rows as shown: number (from the link), title, stage name."""
    rows = []
    for row in await page.locator("table.ov-table tbody tr").all():
        link = row.locator("th a")
        href = await link.get_attribute("href") or ""
        rows.append(
            [href.rsplit("/", 1)[1], await link.inner_text(), await row.locator("td").first.inner_text()]
        )
    return rows


async def test_an_oversight_member_filters_to_minamata_drills_down_and_exports(
    server: LiveServer, oversight_data: OversightData, page: Page, db
) -> None:
    await page.goto(f"{server.url}/app/oversight/coverage")
    await page.get_by_label("Convention").select_option("minamata")
    await page.get_by_role("button", name="Apply").click()
    await expect(page).to_have_url(f"{server.url}/app/oversight/coverage?convention=minamata")
    provisions = page.locator("table.ov-table tbody th a")
    await expect(provisions).to_have_text(["MC/6/COOP.1", "MC/6/COOP.2"])
    await assert_accessible(page)

    # The count of activities answering MC/6/COOP.1 opens them; one of them opens its page.
    await page.get_by_role("link", name="2 activities answering MC/6/COOP.1").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Activities (2)")
    rows = await screen_rows(page)
    assert [row[:2] for row in rows] == [
        [str(oversight_data["a3"]), "Mercury inventory"],
        [str(oversight_data["a4"]), "Mercury trade study"],
    ]
    await assert_accessible(page)

    # The downloads hold the rows on the screen.
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="CSV").click()
    csv_text = (await anyio.Path(await (await csv_download.value).path()).read_bytes()).decode("utf-8-sig")
    csv_rows = list(csv.reader(io.StringIO(csv_text)))
    assert [[r[0], r[1]] for r in csv_rows[1:]] == [row[:2] for row in rows]
    async with page.expect_download() as xlsx_download:
        await page.get_by_role("link", name="Excel (XLSX)").click()
    xlsx_bytes = await anyio.Path(await (await xlsx_download.value).path()).read_bytes()
    sheet = load_workbook(io.BytesIO(xlsx_bytes), read_only=True).active
    assert sheet is not None
    xlsx_rows = list(sheet.iter_rows(values_only=True))
    assert [[str(r[0]), r[1]] for r in xlsx_rows[1:]] == [row[:2] for row in rows]
    assert xlsx_rows[0] == tuple(csv_rows[0])

    await page.get_by_role("link", name="Mercury trade study").click()
    await expect(page).to_have_url(f"{server.url}/app/activities/{oversight_data['a4']}")


async def set_hidden(page: Page, hidden: bool) -> None:
    """The tab hidden or shown again, as the browser tells the page."""
    await page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


async def test_moves_made_through_the_api_arrive_live_once_and_a_hidden_tab_catches_up(
    lifecycle_worker, client, server: LiveServer, oversight_data: OversightData, page: Page, people: People
) -> None:
    """The page opens with its rows, then each move made through the API (a Temporal Update and the
    log) arrives on the event stream at the top, once; a tab hidden meanwhile (its stream closed)
    catches up from the last event it saw when shown again. (The worker first: the server starts
    once the Temporal dev server has settled, not beside its start on a loaded machine.)"""
    first = await create(
        client, people, title="Mercury storage guidance", provisions=["MC/6/COOP.1", "BRS/SYN/I.A.1"]
    )
    streams: list[str] = []
    page.on(
        "request", lambda request: streams.append(request.url) if "/events/stream" in request.url else None
    )
    async with page.expect_request("**/events/stream*"):  # the page goes live
        await page.goto(f"{server.url}/app/oversight/transitions?convention=minamata")
    rows = page.locator("table.ov-table tbody tr")
    await expect(rows).to_have_count(1)  # the creation, loaded with the page
    await expect(rows.first).to_contain_text("Mercury storage guidance")

    withdrawn = await move(client, people, first, "withdrawn", reason="merged into the inventory")
    assert withdrawn.status_code == 200, withdrawn.text
    moved = withdrawn.json()["transition"]["id"]
    new_row = page.locator("table.ov-table tbody tr.ov-new")
    await expect(new_row).to_have_count(1, timeout=WAIT)
    await expect(new_row).to_have_attribute("data-id", str(moved))
    await expect(new_row).to_contain_text("Withdrawn")
    await expect(page.locator("#ov-live-status")).to_contain_text("1 new move")
    assert len(streams) == 1 and "/events/stream?convention=minamata&after=" in streams[0], streams

    await set_hidden(page, True)
    await create(client, people, title="Mercury waste pilot", provisions=["MC/6/COOP.2", "BRS/SYN/I.A.2"])
    await anyio.sleep(1.5)  # the server's stream would have sent it by now: it is closed
    await expect(rows).to_have_count(2)
    await set_hidden(page, False)
    await expect(rows).to_have_count(3, timeout=WAIT)
    await expect(rows.first).to_contain_text("Mercury waste pilot")
    assert streams[-1].endswith(f"after={moved}")  # resumed after the last event seen
    await anyio.sleep(2.5)  # two more polls of the log by the server: nothing comes twice
    ids = [await row.get_attribute("data-id") for row in await rows.all()]
    assert len(ids) == len(set(ids)) == 3, ids
    await assert_accessible(page)


async def test_a_refused_stream_falls_back_to_polling_the_view(
    server: LiveServer, oversight_data: OversightData, page: Page, db
) -> None:
    refused = 0

    async def unavailable(route: Any) -> None:
        nonlocal refused
        refused += 1
        await route.fulfill(status=503, body="")

    await page.add_init_script("window.ovPollMs = 200;")
    await page.route("**/events/stream*", unavailable)
    await page.goto(f"{server.url}/app/oversight/transitions?convention=minamata")
    await expect(page.locator("table.ov-table tbody tr")).to_have_count(1)  # "No moves in this period."
    async with db() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(oversight_data["a4"], 1, TG, TT, oversight_data["bob"], datetime.now(UTC)),
        )
    new_row = page.locator("table.ov-table tbody tr.ov-new")
    await expect(new_row).to_contain_text("Mercury trade study", timeout=15_000)
    await expect(new_row).to_contain_text("Task team")
    assert refused == 3  # three streams tried, then the view polled
    await anyio.sleep(1.0)
    await expect(new_row).to_have_count(1)


async def test_every_view_is_accessible_and_fits_a_390_px_phone(
    server: LiveServer, oversight_data: OversightData, page: Page
) -> None:
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 844})
        for view in VIEWS:
            await page.goto(f"{server.url}/app/oversight{view}?from=2026-01-01&to=2026-03-01")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{view or 'overview'} scrolls sideways by {overflow}px at {width}px"
            if width == 1280:
                await assert_accessible(page)


async def test_live_moves_never_overlap_their_requests_nor_repeat_a_row(
    server: LiveServer, oversight_data: OversightData, page: Page, db
) -> None:
    """Polling (a browser without EventSource): a slow server (every poll answered after 0.8 s) and a
    poll asked for every 50 ms, plus the tab shown again and again: never two requests at once, and
    each new move shown once."""
    running, most, polls = 0, 0, 0

    async def slow(route: Any) -> None:
        nonlocal running, most, polls
        running += 1
        polls += 1
        most = max(most, running)
        try:
            await anyio.sleep(0.8)
            await route.continue_()
        finally:
            running -= 1

    await page.add_init_script("window.ovPollMs = 50; delete window.EventSource;")  # polls at once
    await page.route("**/oversight/transitions?*after_id=*", slow)
    await page.goto(f"{server.url}/app/oversight/transitions?convention=minamata")
    async with db() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(oversight_data["a4"], 1, TG, TT, oversight_data["bob"], datetime.now(UTC)),
        )
    for _ in range(10):  # each "shown again" asks for a poll at once: coalesced into one follow-up
        await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        await anyio.sleep(0.2)
    await expect(page.locator("table.ov-table tbody tr.ov-new")).to_have_count(1, timeout=10_000)
    await anyio.sleep(1.0)
    assert most == 1, f"{most} requests at once"
    assert 2 <= polls <= 8, polls  # ~3.5 s of polls that each take 0.8 s
    await expect(page.locator("table.ov-table tbody tr.ov-new")).to_have_count(1)
