"""The oversight views in a real headless Chromium against a real uvicorn server: an oversight
member filters to Minamata, drills from a count to an activity, downloads the list as CSV and XLSX
(the files hold the rows on the screen), sees a new move arrive live; axe-core finds no serious or
critical violation on any view; at 390 px wide no view scrolls sideways.

Needs Debian's `chromium` at /usr/bin/chromium (fails, never skips, without it). Until the web app's
sign-in is merged, the browser carries the member's API token as a header.
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
from playwright.async_api import BrowserContext, Page, async_playwright, expect

from core.stages import Role
from services.transitions import TransitionRecord, record_transition
from tests.browser_support import assert_accessible, launch_chromium
from tests.conftest import People
from tests.oversight.oversight_data import TG, TT, OversightData
from tests.process_support import LiveServer

VIEWS = ["", "/coverage", "/cop-readiness", "/due", "/flow", "/transitions", "/activities"]


@pytest.fixture
async def browser_context(people: People) -> AsyncIterator[BrowserContext]:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        context = await browser.new_context(
            accept_downloads=True,
            extra_http_headers={"Authorization": f"Bearer {people.tokens[Role.OVERSIGHT]}"},
        )
        try:
            yield context
        finally:
            await context.close()
            await browser.close()


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


async def test_recent_transitions_arrive_live(
    server: LiveServer, oversight_data: OversightData, page: Page, db
) -> None:
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
    await expect(page.locator("#ov-live-status")).to_contain_text("1 new move")


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
    """A slow server (every poll answered after 0.8 s) and a poll asked for every 50 ms, plus the tab
    shown again and again: never two requests at once, and each new move shown once."""
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

    await page.add_init_script("window.ovPollMs = 50;")
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
