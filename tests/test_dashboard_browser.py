"""The built-in dashboard page in a real headless Chromium, against a real uvicorn server.

Needs Debian's `chromium` package at /usr/bin/chromium (no `playwright install`, no download):
the test fails, never skips, when it is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect

from api.services.transitions import TransitionRecord, record_transition
from tests.conftest import People
from tests.dashboard_data import PP, TT, DataSet, build_data_set
from tests.live_server import LiveServer, live_server
from workflows.stages import Role

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def data(db, people: People) -> DataSet:
    return await build_data_set(db, actor_id=people[Role.COORDINATOR].id)


@pytest.fixture
async def server(database_url: str, tmp_path: Path, db) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, tmp_path) as running:
        yield running


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(apt-get install -y chromium) to run the dashboard browser tests",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def page(chromium: Path) -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        context = await browser.new_context()
        page = await context.new_page()
        errors: list[Any] = []
        page.on("pageerror", lambda error: errors.append(error))
        try:
            yield page
        finally:
            await context.close()
            await browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


async def test_dashboard_shows_the_figures_and_updates_live_without_reload(
    server: LiveServer, data: DataSet, people: People, db, page: Page
) -> None:
    token = people.tokens[Role.OVERSIGHT]
    await page.goto(f"{server.url}/dashboard?token={token}")

    # The token leaves the address bar and stays in localStorage.
    await expect(page.get_by_test_id("status")).to_have_text("live", timeout=15_000)
    assert "token=" not in page.url
    await expect(page.locator("#token-form")).to_be_hidden()
    assert await page.evaluate("localStorage.getItem('synergies.dashboard.token')") == token

    counts = {
        "thematic_group": "1",
        "task_team": "1",
        "pilot_project": "0",
        "report_to_cop": "1",
        "closed": "0",
        "withdrawn": "1",
    }
    for stage, count in counts.items():
        await expect(page.get_by_test_id(f"count-{stage}")).to_have_text(count)
    await expect(page.get_by_test_id("total")).to_have_text("4")
    # Overdue as of today (the data set's due dates are in early 2026): A2, A4, A1 by due date.
    overdue = page.get_by_test_id("overdue").locator("tr td:first-child")
    await expect(overdue).to_have_text(["Customs training", "Mercury inventory", "Joint clearing house"])
    # The cumulative flow chart draws one band per stage that has activities in the window.
    bands = page.get_by_test_id("flow-chart").locator("svg path")
    await expect(bands).to_have_count(4)
    loaded = await page.evaluate("document.body.dataset.loaded")
    await page.evaluate("window.sameDocument = true")  # gone if the page reloads

    async with db() as session, session.begin():
        await record_transition(
            session,
            TransitionRecord(
                activity_id=data["a2"],
                seq=3,
                from_stage=TT,
                to_stage=PP,
                actor_id=data.actor_id,
                at=datetime.now(UTC),
            ),
        )

    await expect(page.get_by_test_id("count-task_team")).to_have_text("0", timeout=15_000)
    await expect(page.get_by_test_id("count-pilot_project")).to_have_text("1")
    await expect(page.get_by_test_id("feed").locator("li")).to_have_count(1)
    await expect(page.get_by_test_id("feed")).to_contain_text(
        "Customs training: task team → pilot project (Test Coordinator)"
    )
    # A2 left task_team without a new due date, so it is no longer overdue.
    await expect(overdue).to_have_text(["Mercury inventory", "Joint clearing house"])
    assert await page.evaluate("document.body.dataset.loaded") != loaded
    assert await page.evaluate("window.sameDocument") is True


async def test_dashboard_asks_for_a_token_and_rejects_a_wrong_one(
    server: LiveServer, data: DataSet, people: People, page: Page
) -> None:
    await page.goto(f"{server.url}/dashboard")
    await expect(page.locator("#token-form")).to_be_visible()
    await page.fill("#token-input", "syn_wrong")
    await page.click("#token-form button")
    await expect(page.locator("#token-error")).to_contain_text("refused", timeout=10_000)

    await page.fill("#token-input", people.tokens[Role.OVERSIGHT])
    await page.click("#token-form button")
    await expect(page.get_by_test_id("total")).to_have_text("4", timeout=15_000)
    await expect(page.locator("#token-form")).to_be_hidden()
    await page.reload()  # the token was remembered
    await expect(page.get_by_test_id("total")).to_have_text("4", timeout=15_000)
