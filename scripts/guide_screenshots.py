"""Regenerate the screenshots of docs/guide.md from the demo data, so they never go stale.

    .venv/bin/python scripts/guide_screenshots.py      (or: make guide)

Builds a throw-away SQLite database with the reference and demo data (shifted to today), starts
the API on a free port (the pages shown only read, so no Temporal server is needed), signs in as
three demo people with one-time links, and saves PNGs to docs/guide/. Needs Debian's chromium.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.runner import migrate  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.supervisor import free_port  # noqa: E402
from models.db import create_engine, session_factory, transaction  # noqa: E402
from services.seed import load_demo_data, load_reference_data  # noqa: E402
from services.web_auth import sign_in_link_for  # noqa: E402

OUT = ROOT / "docs" / "guide"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
COORDINATOR = "anna.keller@brs.example.org"
LEAD = "lucia.fernandez@brs.example.org"
OVERSIGHT = "helen.okafor@brs.example.org"


async def load(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            await load_reference_data(session)
            await load_demo_data(session, settings=settings)
    finally:
        await engine.dispose()


async def sign_in(page: Page, settings: Settings, email: str) -> None:
    await page.goto(await sign_in_link_for(settings, email))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/app/")


async def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print(f"docs/guide/{name}.png")


async def take(settings: Settings) -> None:
    url = settings.public_url
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        desk = {"viewport": {"width": 1280, "height": 860}}

        context = await browser.new_context(**desk)
        page = await context.new_page()
        await page.goto(f"{url}/app/sign-in")
        await shoot(page, "sign-in")
        await sign_in(page, settings, COORDINATOR)
        await shoot(page, "board")
        await page.goto(f"{url}/app/?convention=minamata")
        await shoot(page, "board-filtered")
        await page.goto(f"{url}/app/")
        column = page.get_by_test_id("column-pilot_project")
        await column.get_by_role("link", name="Move").first.click()
        await page.locator("dialog#dialog").wait_for()
        await shoot(page, "move-dialog")
        await page.keyboard.press("Escape")
        await column.locator(".card__title a").first.click()
        await page.wait_for_url("**/app/activities/*")
        await shoot(page, "activity")
        await context.close()

        context = await browser.new_context(**desk)
        page = await context.new_page()
        await sign_in(page, settings, LEAD)
        await page.goto(f"{url}/app/my-work")
        await shoot(page, "my-work")
        await page.get_by_test_id("my-activities").get_by_role("link").first.click()
        await page.wait_for_url("**/app/activities/*")
        await page.locator("#actions").scroll_into_view_if_needed()
        await page.locator("#actions").screenshot(path=str(OUT / "actions.png"))
        print("docs/guide/actions.png")
        await page.goto(f"{url}/app/reports")
        await shoot(page, "reports")
        await context.close()

        context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        page = await context.new_page()
        await sign_in(page, settings, OVERSIGHT)
        await shoot(page, "board-phone")
        await context.close()
        await browser.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp}/guide.db",
            data_dir=Path(tmp),
            public_url=f"http://127.0.0.1:{port}",
        )
        migrate(settings.database_url)
        asyncio.run(load(settings))
        env = os.environ | {
            "DATABASE_URL": settings.database_url,
            "SYNERGIES_DATA_DIR": tmp,
            "SYNERGIES_PUBLIC_URL": settings.public_url,
            "SYNERGIES_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{settings.public_url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            asyncio.run(take(settings))
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
