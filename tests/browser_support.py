"""The browser of the browser tests: Debian's `chromium` (/usr/bin/chromium) or, on Ubuntu where
that package is a snap, Playwright's own build (`playwright install chromium`); scripts/test-services
installs one of them. Never skipped: no browser is a failure that says how to get one. Pages are
checked for accessibility with axe-core (tests/vendor/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Error, Page, Playwright

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
AXE = (Path(__file__).parent / "vendor" / "axe-core-4.10.2.min.js").read_text()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def launch_chromium(playwright: Playwright) -> Browser:
    executable = str(SYSTEM_CHROMIUM) if os.access(SYSTEM_CHROMIUM, os.X_OK) else None
    try:
        return await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    except Error as exc:
        pytest.fail(
            f"no Chromium: neither {SYSTEM_CHROMIUM} (Debian: apt-get install chromium) nor Playwright's "
            f"(Ubuntu: playwright install chromium); scripts/test-services installs one. {exc}",
            pytrace=False,
        )


async def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation. Evaluated through the
    DevTools protocol, not as an inline <script>: the pages' Content-Security-Policy forbids those."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE)
    violations = await page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page.url}: {bad}"
